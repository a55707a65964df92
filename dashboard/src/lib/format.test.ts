import { describe, expect, it } from "vitest";
import { eatDay, formatDuration, formatEAT, formatPercent, formatTZS, maskPhone, startOfEATDay } from "./format";

describe("formatTZS", () => {
  it("groups thousands after the currency", () => {
    expect(formatTZS(60000)).toBe("TZS 60,000");
    expect(formatTZS(1234567)).toBe("TZS 1,234,567");
    expect(formatTZS(0)).toBe("TZS 0");
    expect(formatTZS(999)).toBe("TZS 999");
    expect(formatTZS(-5000)).toBe("-TZS 5,000");
  });
  it("shows a dash for nothing", () => {
    expect(formatTZS(null)).toBe("—");
    expect(formatTZS(undefined)).toBe("—");
  });
});

describe("maskPhone", () => {
  it("keeps the country code and the last four digits, as private.mask_phone", () => {
    expect(maskPhone("255712345678")).toBe("255****5678");
    expect(maskPhone("+255 712 345 678")).toBe("255****5678");
  });
  it("leaves a masked phone as it is and hides short ones", () => {
    expect(maskPhone("255****5678")).toBe("255****5678");
    expect(maskPhone("12345")).toBe("****");
    expect(maskPhone(null)).toBe("—");
  });
});

describe("East Africa Time", () => {
  it("shows UTC+3", () => {
    expect(formatEAT("2026-12-01T21:30:00Z")).toBe("2026-12-02 00:30 EAT");
    expect(formatEAT("2026-06-15T08:05:00+00:00")).toBe("2026-06-15 11:05 EAT");
  });
  it("puts 21:00 UTC on the next EAT day", () => {
    expect(eatDay("2026-12-01T20:59:59Z")).toBe("2026-12-01");
    expect(eatDay("2026-12-01T21:00:00Z")).toBe("2026-12-02");
  });
  it("starts an EAT day at 21:00 UTC the day before", () => {
    expect(startOfEATDay(new Date("2026-12-02T01:00:00Z"))).toBe("2026-12-01T21:00:00.000Z");
    expect(startOfEATDay(new Date("2026-12-02T22:00:00Z"))).toBe("2026-12-02T21:00:00.000Z");
    expect(startOfEATDay(new Date("2026-12-02T01:00:00Z"), 2)).toBe("2026-11-29T21:00:00.000Z");
  });
});

describe("durations and rates", () => {
  it("reads like a person would say it", () => {
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(600)).toBe("10 min");
    expect(formatDuration(3900)).toBe("1 h 05 min");
    expect(formatDuration(2 * 86400 + 4 * 3600)).toBe("2 d 4 h");
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(-90)).toBe("-1 min");
  });
  it("rounds percentages to one decimal", () => {
    expect(formatPercent(0.875)).toBe("87.5%");
    expect(formatPercent(2 / 3)).toBe("66.7%");
    expect(formatPercent(1)).toBe("100.0%");
    expect(formatPercent(null)).toBe("—");
  });
});
