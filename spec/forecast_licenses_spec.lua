-- usage.forecast.licenses: the allowance table as data, the TIER=SEATS parser, the explicit allowance.
local forecast = require "usage.forecast"
local licenses = require "usage.forecast.licenses"

describe("usage.forecast.licenses", function()
  it("holds the Resource Center's per-user monthly figures", function()
    local want = {
      communicate = { 10000, nil }, cx1 = { 75000, 97500 }, cx2 = { 110000, 143000 }, cx3 = { 140000, 182000 },
      ex = { 75000, nil },
    }
    local seen = 0
    for _, t in ipairs(licenses.TIERS) do
      local w = assert(want[t.key], t.key)
      assert.equal(w[1], t.named, t.key)
      assert.equal(w[2], t.concurrent, t.key)
      seen = seen + 1
    end
    assert.equal(5, seen)
    assert.equal(licenses.by_key.cx3, licenses.by_key["cx3-digital"])
    assert.equal(licenses.by_key.cx2, licenses.by_key["cx2-digital"])
    assert.truthy(licenses.SOURCE:find("Resource Center", 1, true))
  end)

  it("a 1,000-seat CX 3 org has 140 million requests a month", function()
    local a = assert(forecast.allowance { licenses = "cx3=1000" })
    assert.equal(140000000, a.requests)
    assert.equal("licenses", a.source)
    assert.equal("1,000 CX 3 / CX 3 Digital named x 140,000", a.label)
  end)

  it("adds tiers and seat types", function()
    -- 1,000 x 140,000 + 50 x 75,000 + 200 x 182,000 + 10 x 143,000 + 5 x 10,000
    local a = assert(forecast.allowance { licenses = "cx3=1000, cx1=50,CX3-Concurrent=200,cx2-digital-concurrent=10,communicate=5" })
    assert.equal(140000000 + 3750000 + 36400000 + 1430000 + 50000, a.requests)
    assert.equal(5, #a.licenses)
    assert.equal("concurrent", a.licenses[3].type)
    assert.equal(182000, a.licenses[3].per_seat)
    assert.equal(1000, assert(licenses.parse("cx3=1_000"))[1].seats)
    assert.equal("named", assert(licenses.parse("cx3-named=7"))[1].type)
  end)

  it("says what is wrong, listing the known tiers", function()
    local cases = {
      { "cx4=10", "unknown licence tier 'cx4' (known: communicate, cx1, cx2 (or cx2-digital, cx2digital), cx3 (or " ..
                  "cx3-digital, cx3digital), ex; add -concurrent" },
      { "ex-concurrent=3", "EX has no concurrent figure" },
      { "communicate-concurrent=3", "Communicate has no concurrent figure" },
      { "cx3", "expected TIER=SEATS" },
      { "=5", "no licence tier" },
      { "cx3=", "must be a whole number" },
      { "cx3=-1", "must be a whole number" },
      { "cx3=1.5", "must be a whole number" },
      { "cx3=1e3", "must be a whole number" },
      { "cx3=1_00", "must be a whole number" },
      { "cx3=0x10", "must be a whole number" },
      { "cx3=99999999999", "at most 10,000,000" },
      { "cx3=1,000", "without commas" },
      { "cx3=10,,cx1=1", "an empty item" },
      { "cx3=10,", "an empty item" },
      { "", "no licences given" },
      { "   ", "no licences given" },
      { "cx3=10,cx3=5", "given twice: give their sum once" },
      { "cx3=10,cx3-digital=5", "given twice" },
    }
    for _, c in ipairs(cases) do
      local list, err = licenses.parse(c[1])
      assert.is_nil(list, c[1])
      assert.truthy(err:find(c[2], 1, true), c[1] .. " -> " .. tostring(err))
    end
    local a, err = forecast.allowance { licenses = "cx9=1" }
    assert.is_nil(a)
    assert.truthy(err:find("unknown licence tier", 1, true))
    a, err = forecast.allowance {}
    assert.is_nil(a)
    assert.truthy(err:find("no allowance", 1, true))
    a, err = forecast.allowance { licenses = "cx3=0" }
    assert.is_nil(a)
    assert.truthy(err:find("allowance of 0", 1, true))
  end)

  it("takes an explicit allowance, which wins over the licences (the contract is the authority)", function()
    for _, v in ipairs { 150000000, "150000000", "150,000,000", "150_000_000", " 150000000 " } do
      local a = assert(forecast.allowance { allowance = v })
      assert.equal(150000000, a.requests, tostring(v))
      assert.equal("explicit", a.source)
    end
    local a = assert(forecast.allowance { allowance = "150000000", licenses = "cx3=1000" })
    assert.equal(150000000, a.requests)
    assert.equal(140000000, a.licenses_requests)
    assert.truthy(a.label:find("give 140,000,000", 1, true))
    for _, v in ipairs { 0, -5, 1.5, 0 / 0, math.huge, "0", "1.5e8", "150M", "1,50,000", "1_000,000", "", "abc" } do
      local n, err = licenses.parse_allowance(v)
      assert.is_nil(n, tostring(v))
      assert.truthy(err:find("allowance must be", 1, true), tostring(v))
    end
  end)

  it("raises on wrong argument types", function()
    assert.has_error(function() licenses.parse(42) end)
    assert.has_error(function() forecast.allowance("cx3=1") end)
    assert.has_error(function() forecast.allowance { licenses = 42 } end)
    assert.has_error(function() licenses.parse_allowance({}) end)
  end)
end)
