// Formatting the dashboard uses everywhere: amounts in Tanzanian shillings, phones masked,
// times in East Africa Time (UTC+3, no daylight saving).

export const EAT_TIME_ZONE = "Africa/Dar_es_Salaam";
const EAT_OFFSET_MS = 3 * 60 * 60 * 1000;

/** `TZS 60,000`: whole shillings (the schema stores integer TZS), grouped by thousands. */
export function formatTZS(amount: number | null | undefined): string {
  if (amount === null || amount === undefined || Number.isNaN(amount)) return "—";
  const sign = amount < 0 ? "-" : "";
  const digits = Math.round(Math.abs(amount)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}TZS ${digits}`;
}

/** `255****5678`, as private.mask_phone does: the country code and the last four digits. */
export function maskPhone(phone: string | null | undefined): string {
  if (!phone) return "—";
  if (phone.includes("*")) return phone; // masked by the database already
  const digits = phone.replace(/\D/g, "");
  if (digits.length < 8) return "****";
  return `${digits.slice(0, 3)}****${digits.slice(-4)}`;
}

/** `2026-12-02 04:58 EAT` */
export function formatEAT(iso: string | null | undefined): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  const d = new Date(t + EAT_OFFSET_MS);
  const pad = (n: number) => n.toString().padStart(2, "0");
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} EAT`
  );
}

/** The EAT calendar day (`YYYY-MM-DD`) of an instant. */
export function eatDay(iso: string | number | Date): string {
  const t = typeof iso === "string" ? Date.parse(iso) : new Date(iso).getTime();
  return new Date(t + EAT_OFFSET_MS).toISOString().slice(0, 10);
}

/** The instant today's EAT day began (as an ISO string, for `gte` filters). */
export function startOfEATDay(now: Date = new Date(), daysBack = 0): string {
  const day = eatDay(now);
  const midnightUtc = Date.parse(`${day}T00:00:00Z`) - EAT_OFFSET_MS;
  return new Date(midnightUtc - daysBack * 24 * 60 * 60 * 1000).toISOString();
}

/** `1 h 05 min`, `3 d 4 h`, `42 s` */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  if (seconds < 0) return `-${formatDuration(-seconds)}`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** `87.5%`, or `—` with nothing to divide. */
export function formatPercent(rate: number | null): string {
  if (rate === null || Number.isNaN(rate)) return "—";
  return `${(Math.round(rate * 1000) / 10).toFixed(1)}%`;
}

export function shortId(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : "—";
}
