-- usage.rows: one normalized shape for the rows of both generations
local rows = require "usage.base.rows"

describe("usage.rows.normalize", function()
  it("reads an aggregates job row (OrganizationPublicApiUsage)", function()
    local r = rows.normalize { date = "2026-11-30", httpMethod = "GET", templateUri = "api/v2/users",
      platform = "PublicAPI", requestCount = 3000000000, status200 = 2999999000, status300 = 0, status400 = 1000,
      status429 = 900, status500 = 0, oauthClient = { id = "c1", name = "Reporting" }, user = { id = "u1" } }
    assert.same({ date = "2026-11-30", client_id = "c1", client_name = "Reporting", user_id = "u1",
                  template_uri = "api/v2/users", http_method = "GET", platform = "PublicAPI",
                  requests = 3000000000, status200 = 2999999000, status300 = 0, status400 = 1000, status429 = 900,
                  status500 = 0 }, r)
  end)

  it("reads an old-generation row (ApiUsageRow) and cuts its date to the day", function()
    local r = rows.normalize { date = "2026-11-30T00:00:00.000Z", clientId = "c2", clientName = "Bot",
                               organizationId = "o1", requests = 7, status200 = 7 }
    assert.equal("2026-11-30", r.date)
    assert.equal("c2", r.client_id)
    assert.equal("Bot", r.client_name)
    assert.equal("o1", r.organization_id)
    assert.equal(7, r.requests)
    assert.equal(0, r.status500)
  end)

  it("takes the day a date starts with exactly where ^(%d%d%d%d%-%d%d%-%d%d) would, whatever the bytes", function()
    local cases = { "2026-11-01", "2026-11-01T00:00:00Z", "2026-11-01 ", "2026-1-01", "2026/11/01", "202a-11-01",
                    "2026-11-0", "", "-2026-11-01", "2026-11-01\0", "\0\0\0\0-\0\0-\0\0", "9999-99-99", "0000-00-00xyz",
                    "2026-11-01" .. string.rep("x", 1000), " 2026-11-01", "２０２６-11-01" }
    local seed = 3
    local alphabet = "0123456789-T:Z /\0\255a"
    for _ = 1, 3000 do -- strings near the shape: digits, dashes and a few others
      local t = {}
      for k = 1, 9 + seed % 5 do
        seed = (seed * 1103515245 + 12345) % 2147483648
        local p = (k == 5 or k == 8) and (seed % 7 == 0 and 2 or 11) or (seed % 13 == 0 and 12 + seed % 8 or 1 + seed % 10)
        t[k] = alphabet:sub(p, p)
      end
      cases[#cases + 1] = table.concat(t)
    end
    local days = 0
    for _, s in ipairs(cases) do
      local want = s:match("^(%d%d%d%d%-%d%d%-%d%d)")
      assert.equal(want, rows.normalize({ date = s }).date, string.format("%q", s))
      if want then days = days + 1 end
    end
    assert.is_true(days > 100, days)
  end)

  it("never raises on hostile rows: wrong types become absent or 0", function()
    for _, bad in ipairs { "x", 1, true, { oauthClient = "x", user = 5, date = 7, requestCount = "9" },
                           { requestCount = 0 / 0, status200 = math.huge, date = "not a date" } } do
      local r = rows.normalize(bad)
      assert.is_nil(r.client_id)
      assert.is_nil(r.date)
      assert.equal(0, r.requests)
      assert.equal(0, r.status200)
    end
  end)

  it("falls back field by field as the two generations spell them, and counts only finite numbers", function()
    local r = rows.normalize { oauthClient = { id = 5, name = false }, clientId = "c2", clientName = "Old name",
                               user = { id = {} }, userId = "u2", requestCount = false, requests = 7,
                               status300 = -math.huge, status400 = -3, status429 = 2.5, status500 = 2 ^ 40 }
    assert.same({ client_id = "c2", client_name = "Old name", user_id = "u2", requests = 7, status200 = 0,
                  status300 = 0, status400 = -3, status429 = 2.5, status500 = 2 ^ 40 }, r)
    assert.equal(0, rows.normalize({ requestCount = 0 / 0, requests = 9 }).requests) -- (present: not a fallback)
    assert.equal(9, rows.normalize({ requests = 9 }).requests)
  end)

  it("fills a given table instead of making one, leaving nothing of the row before", function()
    local full = { date = "2026-11-30T00:00:00Z", httpMethod = "GET", templateUri = "api/v2/users", platform = "PublicAPI",
                   organizationId = "o1", requestCount = 5, status200 = 4, status300 = 1, status400 = 0, status429 = 0,
                   status500 = 0, oauthClient = { id = "c1", name = "Reporting" }, user = { id = "u1" } }
    local into = {}
    assert.equal(into, rows.normalize(full, into))
    assert.same(rows.normalize(full), into)
    rows.normalize({ date = "2026-12-01", requests = 2 }, into)
    assert.same(rows.normalize({ date = "2026-12-01", requests = 2 }), into)
    assert.same({ date = "2026-12-01", requests = 2, status200 = 0, status300 = 0, status400 = 0, status429 = 0,
                  status500 = 0 }, into)
  end)
end)
