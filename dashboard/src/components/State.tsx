import type { ReactNode } from "react";
import { useT } from "../lib/i18n";
import type { QueryState } from "../lib/useQuery";

/** Loading, error and empty states around a query's content. */
export function Loaded<T>({
  q,
  empty,
  children,
}: {
  q: QueryState<T>;
  empty?: (data: T) => boolean;
  children: (data: T) => ReactNode;
}) {
  const t = useT();
  if (q.loading && q.data === undefined) return <p className="state" data-state="loading">{t("loading")}</p>;
  if (q.error)
    return (
      <div className="state error" data-state="error" role="alert">
        <strong>{t("error")}:</strong> {q.error}{" "}
        <button onClick={q.reload}>{t("retry")}</button>
      </div>
    );
  if (q.data === undefined) return null;
  if (empty?.(q.data)) return <p className="state" data-state="empty">{t("empty")}</p>;
  return <>{children(q.data)}</>;
}

/** The result of the last action: a message or an error, shown above a table. */
export function Flash({ message }: { message: { ok: boolean; text: string } | null }) {
  if (!message) return null;
  return (
    <p className={message.ok ? "flash ok" : "flash error"} role={message.ok ? "status" : "alert"} data-testid="flash">
      {message.text}
    </p>
  );
}

export function Badge({ value }: { value: string | null | undefined }) {
  return <span className={`badge badge-${value ?? "none"}`}>{value ?? "—"}</span>;
}
