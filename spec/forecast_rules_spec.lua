-- The alerting rules (examples/prometheus/genesys-usage-rules.yml) through `promtool check rules` and
-- `promtool test rules` (a series that crosses the line), and the forecast dashboard
-- (examples/grafana-forecast-dashboard.json): its queries name only the forecast's families, parse, and give
-- the expected answers on the gauges usage.forecast renders (promtool's PromQL unit tests).
local forecast = require "usage.forecast"
local interval = require "usage.base.interval"
local json = require "usage.base.json"
local nginx = require "support.nginx"
local support = require "support.prometheus"

local RULES = "examples/prometheus/genesys-usage-rules.yml"
local TESTS = "examples/prometheus/genesys-usage-rules-test.yml"
local DASHBOARD = "examples/grafana-forecast-dashboard.json"

local function promtool(args)
  assert(support.which("promtool"), "promtool is missing: `make deps` installs it (Debian package prometheus)")
  local p = io.popen("promtool " .. args .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  return out:match("rc=(%d+)\n$") == "0", out
end

local FAMILIES = {}
for _, f in ipairs(forecast.FAMILIES) do FAMILIES[f.name] = true end

local function temp_dir()
  return nginx.temp_dir("usage-forecast-rules")
end

describe("the forecast's alerting rules", function()
  it("pass promtool check rules", function()
    local ok, out = promtool("check rules " .. RULES)
    assert.is_true(ok, out)
    assert.truthy(out:find("SUCCESS: 5 rules found", 1, true), out)
  end)

  it("pass promtool test rules: a projection that crosses 80% then 100%, a month to date over, a stale forecast", function()
    local ok, out = promtool("test rules " .. TESTS)
    assert.is_true(ok, out)
    assert.truthy(out:find("SUCCESS", 1, true), out)
  end)

  it("the tests can fail: with the critical line moved to 200% they do", function()
    local dir = temp_dir()
    local rules = assert(nginx.read_file(RULES))
    local moved, n = rules:gsub("genesys_usage_projected_requests / genesys_usage_allowance_requests > 1\n",
      "genesys_usage_projected_requests / genesys_usage_allowance_requests > 2\n")
    assert.equal(1, n)
    nginx.write_file(dir .. "/genesys-usage-rules.yml", moved)
    nginx.write_file(dir .. "/test.yml", assert(nginx.read_file(TESTS)))
    local ok, out = promtool("test rules " .. nginx.sh_quote(dir .. "/test.yml"))
    nginx.remove_dir(dir)
    assert.is_false(ok, out)
    assert.truthy(out:find("GenesysUsageProjectedOverAllowance", 1, true), out)
  end)

  it("read only families that usage.forecast renders", function()
    local rules = assert(nginx.read_file(RULES))
    local used = {}
    for expr in rules:gmatch("expr: ([^\n]+)") do
      for name in expr:gmatch("genesys_usage_[%w_]+") do
        assert.truthy(FAMILIES[name], name .. " is not a family of usage.forecast.prometheus")
        used[name] = true
      end
    end
    for _, name in ipairs { "genesys_usage_projected_requests", "genesys_usage_allowance_requests",
                            "genesys_usage_month_to_date_requests", "genesys_usage_forecast_timestamp_seconds" } do
      assert.truthy(used[name], name .. " is not alerted on")
    end
  end)
end)

describe("the forecast dashboard", function()
  local dashboard = json.decode(assert(nginx.read_file(DASHBOARD)))
  local variables = {}
  for _, v in ipairs(dashboard.templating.list) do variables[v.name] = v end
  local exprs = {}
  for _, p in ipairs(dashboard.panels) do
    for _, t in ipairs(p.targets or {}) do exprs[#exprs + 1] = { panel = p, expr = t.expr, legend = t.legendFormat } end
  end
  local function filled(expr)
    return (expr:gsub("%$org", "acme"):gsub("%$top", "10"))
  end

  it("names only the forecast's families and its own variables", function()
    assert.is_true(#exprs >= 9)
    local used = {}
    for _, e in ipairs(exprs) do
      local n = 0
      for name in e.expr:gmatch("genesys_usage_[%w_]+") do
        assert.truthy(FAMILIES[name], e.panel.title .. ": " .. name .. " is not a family of usage.forecast.prometheus")
        used[name] = true
        n = n + 1
      end
      assert.is_true(n > 0, e.expr)
      for var in e.expr:gmatch("%$([%w_]+)") do
        assert.truthy(variables[var], e.panel.title .. ": unknown variable $" .. var)
      end
    end
    for name in pairs(FAMILIES) do
      if name ~= "genesys_usage_month_to_date_start_timestamp_seconds" and
         name ~= "genesys_usage_month_to_date_end_timestamp_seconds" then
        assert.truthy(used[name], name .. " is on no panel")
      end
    end
    assert.truthy(variables.org.definition:find("genesys_usage_allowance_requests", 1, true))
  end)

  it("its queries parse and answer as expected on the rendered gauges (promtool's PromQL tests)", function()
    local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
    local span = forecast.span(now)
    local rows = {}
    for d = span.first_day, span.last_day do
      local date = interval.date(d)
      rows[#rows + 1] = { date = date, client_id = "c1", client_name = "Salesforce Bridge", requests = 3100000 }
      rows[#rows + 1] = { date = date, client_id = "c2", client_name = "Équipe Reporting", requests = 900000 + (d % 7) * 10000 + (math.floor(d / 7) % 3) * 50000 }
      if date >= "2026-03-10" then rows[#rows + 1] = { date = date, client_id = "rx", client_name = "Runaway Sync", requests = 5000000 } end
    end
    local r = assert(forecast.compute { now = now, org = "acme", allowance = 140000000, rows = rows })
    assert.is_true(r.projection.band.low < r.projection.requests)   -- a band of some width: each line differs
    local text = forecast.prometheus(r)

    -- the exposition as promtool input series (each value held for 10 minutes)
    local series = {}
    for name, labels, value in text:gmatch("\n?([%w_]+)(%b{}) ([^\n]+)") do
      series[#series + 1] = "      - series: " .. support.yaml_string(name .. labels) .. "\n        values: " ..
        support.yaml_string(value .. "x10")
    end
    -- the expected answers, from the result (the same float operations PromQL does)
    local P, A, M = r.projection.requests, r.allowance.requests, r.month_to_date.requests
    local function one(v) return { { labels = "{}", value = v } } end
    local expected = {
      ["month to date"] = one(M), allowance = one(A), projection = one(P),
      ["band low"] = one(r.projection.band.low), ["band high"] = one(r.projection.band.high),
      projected = one(P / A), overage = one(math.max(P - A, 0)), age = one(300 - now),
    }
    expected["month to date"] = one(M)
    local mtd_share = one(M / A)
    local clients = {}
    for _, c in ipairs(r.clients) do
      clients[#clients + 1] = { labels = string.format('{client_id="%s",client_name="%s"}', c.id, c.name),
                                value = c.projection.requests }
    end
    local tests = {}
    for i, e in ipairs(exprs) do
      local want = e.legend == "{{client_name}}" and clients or
                   (e.panel.title:find("Month to date, share", 1, true) and mtd_share or expected[e.legend])
      assert(want, "no expected answer for " .. e.legend)
      local lines = { "      - expr: " .. support.yaml_string(filled(e.expr)), "        eval_time: 5m",
                      "        exp_samples:" }
      for _, s in ipairs(want) do
        lines[#lines + 1] = "          - labels: " .. support.yaml_string(s.labels)
        lines[#lines + 1] = "            value: " .. string.format("%.17g", s.value)
      end
      tests[i] = table.concat(lines, "\n")
    end
    local dir = temp_dir()
    nginx.write_file(dir .. "/empty.yml", "groups: []\n")
    nginx.write_file(dir .. "/test.yml", "rule_files: [ empty.yml ]\nevaluation_interval: 1m\ntests:\n" ..
      "  - interval: 1m\n    input_series:\n" .. table.concat(series, "\n") .. "\n    promql_expr_test:\n" ..
      table.concat(tests, "\n") .. "\n")
    local ok, out = promtool("test rules " .. nginx.sh_quote(dir .. "/test.yml"))
    local test_text = nginx.read_file(dir .. "/test.yml")
    nginx.remove_dir(dir)
    assert(ok, out .. "\n--- test file:\n" .. test_text)
  end)
end)
