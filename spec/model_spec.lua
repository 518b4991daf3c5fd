-- The operations table, the models and body validation, the interval helpers.
local usage = require "usage"
local operations = require "usage.api.operations"
local validate = require "usage.api.validate"
local interval = require "usage.base.interval"
local json = require "usage.base.json"

describe("the operations table", function()
  it("describes the 11 operations of the seed with their snake_case aliases", function()
    local names = {}
    for _, op in ipairs(operations.list) do names[#names + 1] = op.name end
    table.sort(names)
    assert.same({
      "getOauthClientUsageQueryResult", "getOauthClientUsageSummary", "getUsageAggregatesQueryJob",
      "getUsageClientClientIdAggregatesQueryJob", "getUsageQueryExecutionIdResults",
      "getUsageSimplesearchExecutionIdResults", "postOauthClientUsageQuery", "postUsageAggregatesQueryJobs",
      "postUsageClientClientIdAggregatesQueryJobs", "postUsageQuery", "postUsageSimplesearch",
    }, names)
    assert.equal("get_usage_query_execution_id_results", operations.by_name.getUsageQueryExecutionIdResults.snake_name)
    assert.equal("get_usage_client_client_id_aggregates_query_job",
      operations.by_name.getUsageClientClientIdAggregatesQueryJob.snake_name)
    assert.equal("post_usage_simplesearch", operations.by_name.postUsageSimplesearch.snake_name)
    assert.equal("get_oauth_client_usage_query_result", operations.by_name.getOauthClientUsageQueryResult.snake_name)
  end)

  it("puts every path parameter in the positional parameters", function()
    for _, op in ipairs(operations.list) do
      local in_path = {}
      for name in op.path:gmatch("{(%w+)}") do in_path[#in_path + 1] = name end
      local params = {}
      for _, p in ipairs(op.params) do params[#params + 1] = p end
      table.sort(in_path)
      table.sort(params)
      assert.same(in_path, params, op.name)
      assert.is_truthy(usage.models[op.response], op.name)
      if op.body then assert.is_truthy(usage.models[op.body], op.name) end
      assert.is_true(#op.permissions >= 1)
    end
  end)

  it("keeps the SDK argument order", function()
    assert.same({ "executionId", "clientId" }, operations.by_name.getOauthClientUsageQueryResult.params)
    assert.same({ "clientId", "jobId" }, operations.by_name.getUsageClientClientIdAggregatesQueryJob.params)
  end)
end)

describe("usage.api.regions", function()
  it("has the 18 regions", function()
    local n = 0
    for _ in pairs(usage.regions) do n = n + 1 end
    assert.equal(18, n)
    assert.equal("mypurecloud.com", usage.regions.us_east_1)
    assert.equal("edee1.eusc-pure.cloud", usage.regions.eusc_de_east_1)
    assert.equal("use2.us-gov-pure.cloud", usage.regions.us_east_2)
  end)
end)

describe("body validation", function()
  local I = "2025-01-01T00:00:00Z/2025-01-31T00:00:00Z"
  local J = interval.days(30).jobs -- new generation: recent days (a job may start at most one year ago)

  it("accepts a valid body and returns a normalized copy", function()
    local body = { interval = I, granularity = "day", metrics = { "Requests", "status429" }, groupBy = {} }
    local out = assert(validate.body("ApiUsageOrganizationQuery", body))
    assert.equal("Day", out.granularity)
    assert.same({ "Requests", "Status429" }, out.metrics)
    assert.equal('{"granularity":"Day","groupBy":[],"interval":"' .. I .. '","metrics":["Requests","Status429"]}',
      json.encode(out))
    assert.equal("day", body.granularity) -- the caller's table is untouched
  end)

  it("names the field and the allowed values of a bad enum", function()
    local out, err = validate.body("ApiUsageOrganizationQuery", { interval = I, granularity = "Hour" })
    assert.is_nil(out)
    assert.equal("validation", err.code)
    assert.equal("granularity", err.field)
    assert.same({ "Day", "Week", "Month" }, err.allowed)
    assert.matches("Day, Week, Month", tostring(err))
  end)

  it("knows the groupBy spellings of each generation", function()
    assert.is_nil((validate.body("ApiUsageClientQuery", { interval = I, groupBy = { "UserId" } })))
    assert.truthy(validate.body("ApiUsageOrganizationQuery", { interval = I, groupBy = { "UserId" } }))
    -- the old generation's spelling is taken case-insensitively and sent as the new one's
    local out = validate.body("OrganizationPublicApiUsageQueryRequest", { interval = J, groupBy = { "OAuthClientId" } })
    assert.same({ "OauthClientId" }, out.groupBy)
    local _, err = validate.body("OrganizationPublicApiUsageQueryRequest", { interval = J, groupBy = { "OrganizationId" } })
    assert.equal("groupBy[1]", err.field)
  end)

  it("requires the interval and checks its form and span", function()
    local _, err = validate.body("ApiUsageSimpleSearch", {})
    assert.equal("interval", err.field)
    _, err = validate.body("ApiUsageSimpleSearch", { interval = "yesterday" })
    assert.equal("interval", err.field)
    _, err = validate.body("ApiUsageOrganizationQuery", { interval = "2025-02-01/2025-01-01" })
    assert.matches("after the start", err.message)
    local recent = interval.days(100)
    _, err = validate.body("OrganizationPublicApiUsageQueryRequest", { interval = recent.jobs })
    assert.matches("90 days", err.message)
    assert.truthy(validate.body("OrganizationPublicApiUsageQueryRequest", { interval = recent.jobs }, { split = true }))
    assert.truthy(validate.body("OrganizationPublicApiUsageQueryRequest", { interval = recent.last .. "/" .. recent.last }))
    _, err = validate.body("OrganizationPublicApiUsageQueryRequest", { interval = "2025-01-01/2025-01-01" })
    assert.matches("one year", err.message)
  end)

  it("rejects unknown fields and wrong shapes", function()
    local _, err = validate.body("ApiUsageOrganizationQuery", { interval = I, groupby = { "UserId" } })
    assert.equal("groupby", err.field)
    assert.matches("groupBy", err.message)
    _, err = validate.body("ApiUsageSimpleSearch", { interval = I, oauthClientNames = { 1, 2 } })
    assert.equal("oauthClientNames[1]", err.field)
    -- UsageQuerySortBy: fieldName and order are both optional
    assert.truthy(validate.body("OrganizationPublicApiUsageQueryRequest", { interval = J, sortBy = { { order = "Asc" } } }))
    assert.truthy(validate.body("OrganizationPublicApiUsageQueryRequest", { interval = J, sortBy = { { fieldName = "date" } } }))
    _, err = validate.body("OrganizationPublicApiUsageQueryRequest", { interval = J, sortBy = { { fieldName = 1 } } })
    assert.equal("sortBy[1].fieldName", err.field)
    _, err = validate.body("OrganizationPublicApiUsageQueryRequest", { interval = J, sortBy = { { fieldName = "x", order = "Up" } } })
    assert.equal("sortBy[1].order", err.field)
  end)
end)

describe("usage.base.interval", function()
  it("parses instants, dates and offsets", function()
    assert.equal(1735689600, interval.parse_instant("2025-01-01"))
    assert.equal(1735689600, interval.parse_instant("2025-01-01T00:00:00Z"))
    assert.equal(1735689600, interval.parse_instant("2025-01-01T01:00:00.000+01:00"))
    assert.is_nil(interval.parse_instant("2025-02-30"))
    assert.is_nil(interval.parse_instant("2025-01-01T25:00"))
  end)

  it("formats and builds --last intervals", function()
    assert.equal("2024-02-29T12:00:00Z", interval.format(1709208000))
    assert.equal("2024-02-29", interval.format(1709208000, true))
    assert.equal(7 * 86400, interval.duration("7d"))
    assert.equal(24 * 3600, interval.duration("24h"))
    assert.is_nil(interval.duration("7 days"))
    assert.equal("2024-12-31T00:00:00Z/2025-01-01T00:00:00Z", interval.last(86400, 1735689600))
  end)
end)
