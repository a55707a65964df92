import { describe, expect, it } from "vitest";
import { dailySeries, fulfilmentTimes, isFinished, lastDays } from "./metrics";

const order = (created_at: string, total: number, paid_at: string | null = null) => ({
  id: created_at,
  status: paid_at ? "paid" : "pending_payment",
  total,
  created_at,
  paid_at,
});

describe("finished payments", () => {
  it("are the ones a success rate divides by", () => {
    expect(["succeeded", "refunded", "partially_refunded", "failed", "expired"].every(isFinished)).toBe(true);
    expect(["pending", "initiated", "ambiguous"].some(isFinished)).toBe(false);
  });
});

describe("fulfilment times", () => {
  it("averages what is known", () => {
    expect(
      fulfilmentTimes([
        { seconds_to_dispatch: 100, seconds_to_deliver: 1000 },
        { seconds_to_dispatch: 300, seconds_to_deliver: null },
      ]),
    ).toEqual({ toDispatch: 200, toDeliver: 1000 });
    expect(fulfilmentTimes([])).toEqual({ toDispatch: null, toDeliver: null });
  });
  it("leaves out negative durations (a clock moved by hand)", () => {
    expect(
      fulfilmentTimes([
        { seconds_to_dispatch: 60, seconds_to_deliver: -345600 },
        { seconds_to_dispatch: -1, seconds_to_deliver: 7200 },
      ]),
    ).toEqual({ toDispatch: 60, toDeliver: 7200 });
  });
});

describe("daily series", () => {
  it("has one point per EAT day, oldest first", () => {
    expect(lastDays("2026-12-02", 3)).toEqual(["2026-11-30", "2026-12-01", "2026-12-02"]);
    expect(lastDays("2026-03-01", 2)).toEqual(["2026-02-28", "2026-03-01"]);
  });
  it("counts orders and rates payments per day, with gaps where nothing finished", () => {
    const s = dailySeries(
      [order("2026-12-01T22:00:00Z", 1), order("2026-12-02T05:00:00Z", 1), order("2026-11-20T05:00:00Z", 1)],
      [
        { provider: "mpesa", status: "succeeded", created_at: "2026-12-02T05:00:00Z" },
        { provider: "mpesa", status: "failed", created_at: "2026-12-02T06:00:00Z" },
      ],
      "2026-12-02",
      2,
    );
    expect(s).toEqual({ days: ["2026-12-01", "2026-12-02"], orders: [0, 2], successRate: [null, 0.5] });
  });
});
