import { describe, expect, it } from "vitest";
import { eatDateBound } from "./AuditLog";
import { searchKind } from "./Orders";
import { payoutGroup } from "./Payouts";
import { shipmentActions } from "./Shipments";
import { normalizePhone } from "./SignIn";
import { sortVendors } from "./Vendors";
import { readConfig } from "../lib/supabase";

describe("vendors", () => {
  it("lists pending approval first, newest first within a status", () => {
    const rows = [
      { id: "a", status: "approved", created_at: "2026-12-01" },
      { id: "b", status: "pending", created_at: "2026-11-01" },
      { id: "c", status: "suspended", created_at: "2026-12-01" },
      { id: "d", status: "pending", created_at: "2026-12-01" },
    ];
    expect(sortVendors(rows).map((r) => r.id)).toEqual(["d", "b", "c", "a"]);
  });
});

describe("order search", () => {
  it("tells ids, phones and references apart", () => {
    expect(searchKind("")).toBe("recent");
    expect(searchKind("3f0c2a4e-1b2c-4d5e-8f90-123456789abc")).toBe("id");
    expect(searchKind("0712 345 678")).toBe("phone");
    expect(searchKind("255712345678")).toBe("phone");
    expect(searchKind("WR4F3A9C0D1E2B3C4D5E")).toBe("reference");
  });
});

describe("shipments", () => {
  it("offers the next steps of each status", () => {
    expect(shipmentActions("pending")).toEqual(["pack"]);
    expect(shipmentActions("packed")).toEqual(["dispatch"]);
    expect(shipmentActions("dispatched")).toContain("delivered");
    expect(shipmentActions("delivered")).toEqual([]);
  });
});

describe("payouts", () => {
  const p = (status: string, needs_approval = false) => ({
    payout_id: "x",
    reference: "WO1",
    amount: 1,
    status,
    provider: "mpesa",
    msisdn: "255****0001",
    needs_approval,
    failure_reason: null,
    created_at: "2026-12-01",
    paid_at: null,
  });
  it("groups awaiting approval, failed, open and done", () => {
    expect(payoutGroup(p("pending", true))).toBe("awaiting");
    expect(payoutGroup(p("failed"))).toBe("failed");
    expect(payoutGroup(p("processing"))).toBe("open");
    expect(payoutGroup(p("paid"))).toBe("done");
  });
});

describe("audit filter", () => {
  it("bounds EAT days", () => {
    expect(eatDateBound("2026-12-02")).toBe("2026-12-01T21:00:00.000Z");
    expect(eatDateBound("2026-12-02", true)).toBe("2026-12-02T21:00:00.000Z");
    expect(eatDateBound("soon")).toBeNull();
  });
});

describe("sign-in and settings", () => {
  it("normalises a local phone to 255…", () => {
    expect(normalizePhone("0700 000 001")).toBe("255700000001");
    expect(normalizePhone("+255700000001")).toBe("255700000001");
  });
  it("prefers the runtime settings, then VITE_*", () => {
    expect(readConfig({ supabaseUrl: "http://a", anonKey: "k" }, {})).toEqual({ supabaseUrl: "http://a", anonKey: "k" });
    expect(readConfig({}, { VITE_SUPABASE_URL: "http://b", VITE_SUPABASE_ANON_KEY: "j" })).toEqual({
      supabaseUrl: "http://b",
      anonKey: "j",
    });
    expect(readConfig(undefined, {})).toBeNull();
  });
});
