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
end)
