import { describe, expect, it } from "vitest";
import { dictionaries, translate } from "./i18n";

describe("translations", () => {
  it("has every English label in Kiswahili, none left empty", () => {
    const en = Object.keys(dictionaries.en).sort();
    expect(Object.keys(dictionaries.sw).sort()).toEqual(en);
    for (const key of en) expect(dictionaries.sw[key as keyof typeof dictionaries.sw].trim()).not.toBe("");
  });
  it("switches", () => {
    expect(translate("en", "vendors")).toBe("Vendors");
    expect(translate("sw", "vendors")).toBe("Wauzaji");
  });
});
