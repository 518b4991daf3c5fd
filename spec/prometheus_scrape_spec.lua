-- A real Prometheus (spec/support/prometheus.lua) scrapes the output of usage.prometheus.render_orgs (two
-- orgs, one with the fair-use forecast's gauges) from a loopback nginx serving it as a file, and its query
-- API gives back the series: names, labels (org on every one, hostile client names included) and values.
-- Both Grafana dashboards' queries run there too.
-- Needs the Debian packages prometheus and nginx (`make deps`): fails, never skips, without them.

local prometheus = require "usage.prometheus"
local forecast = require "usage.forecast"
local interval = require "usage.base.interval"
local support = require "support.prometheus"
local nginx = require "support.nginx"
local cjson = require "cjson"

local json = cjson.new()

local HOSTILE = 'Quote " back\\slash \\n not-a-newline\nnewline \r\t} # HELP x, {a="b"} Ünïcödé 日本 😀'

local function figures()
  local day = {
    { id = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac", name = "Acme Reporting", requests = 123456789,
      status200 = 123000000, status300 = 6789, status400 = 450000, status429 = 12000, status500 = 0 },
    { id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd", name = "Bulk Export Service", requests = 5994582206,
      status200 = 5994582000, status300 = 0, status400 = 200, status429 = 150, status500 = 6 },
    { id = "9b2b7a9e-hostile", name = HOSTILE, requests = 42, status200 = 40, status400 = 2, status429 = 1 },
  }
  local month = {}
  for i, c in ipairs(day) do
    local m = {}
    for k, v in pairs(c) do m[k] = type(v) == "number" and v * 30 or v end
    month[i] = m
  end
  return {
    org = "acme",
    usage = {
      day = { first = "2026-11-30", last = "2026-11-30", clients = day },
      month = { first = "2026-11-01", last = "2026-11-30", clients = month },
    },
    collector = { success_timestamp = 1796100000, duration = 12.5, errors = 1, last_error = "timeout\nwhile polling" },
    client = { requests = 250, retries = 3, responses_429 = 2, logins = 1,
               ratelimit = { count = 17, allowed = 300, reset = 41 } },
  }
end

-- a second org, with a forecast (20 March 2026) and so the forecast's gauges
local function globex()
  local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
  local span = forecast.span(now)
  local rows = {}
  for d = span.first_day, span.last_day do
    rows[#rows + 1] = { date = interval.date(d), client_id = "c1", client_name = "WFM Sync", requests = 3000000 + (d % 5) * 70000 }
  end
  local f = assert(forecast.compute { now = now, org = "globex", allowance = 75000000, rows = rows })
  return { org = "globex", forecast = f, collector = { success_timestamp = 1796100000, errors = 0 },
           usage = { month = { first = "2026-03-01", last = "2026-03-19",
                               clients = { { id = "c1", name = "WFM Sync", requests = f.month_to_date.requests } } } } }
end

-- an nginx that serves `text` at /metrics from its temporary prefix (the specs' watchdog stops it
-- if this process dies)
local function start_target(text)
  local prefix = nginx.make_prefix("prom-target")
  assert(nginx.run("mkdir -p " .. nginx.sh_quote(prefix .. "/html")))
  nginx.write_file(prefix .. "/html/metrics", text)
  local repo = nginx.absolute(".")
  local port, pid = nginx.start_nginx {
    prefix = prefix,
    conf = function(p)
      return table.concat({
        "load_module /usr/lib/nginx/modules/ndk_http_module.so;",
        "load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;",
        nginx.running_as_root() and "user root;" or "",
        "worker_processes 1;",
        "daemon on;",
        "pid " .. prefix .. "/logs/nginx.pid;",
        "error_log " .. prefix .. "/logs/error.log warn;",
        "events { worker_connections 64; }",
        "http {",
        "  access_log off;",
        "  client_body_temp_path " .. prefix .. "/temp/client_body;",
        "  proxy_temp_path " .. prefix .. "/temp/proxy;",
        "  fastcgi_temp_path " .. prefix .. "/temp/fastcgi;",
        "  uwsgi_temp_path " .. prefix .. "/temp/uwsgi;",
        "  scgi_temp_path " .. prefix .. "/temp/scgi;",
        "  lua_package_path \"" .. repo .. "/spec/fakecloud/lua/?.lua;;\";",
        "  init_worker_by_lua_block { require('fake.watchdog').start(" .. nginx.self_pid() .. ", nil, 'prom_target') }",
        "  server {",
        "    listen 127.0.0.1:" .. p .. ";",
        "    location = /metrics {",
        "      types { }",
        "      default_type \"" .. prometheus.CONTENT_TYPE .. "\";",
        "      root " .. prefix .. "/html;",
        "    }",
        "    location = /ping { return 200 'ok'; }",
        "  }",
        "}",
      }, "\n") .. "\n"
    end,
  }
  if not port then
    nginx.remove_dir(prefix)
    error(pid)
  end
  local core = require "usage.core"
  local h = { port = port, pid = pid, prefix = prefix, session = core.session {} }
  if not nginx.wait_until_up(h.session, "http://127.0.0.1:" .. port .. "/ping", pid, 30) then
    local log = nginx.logs_tail(prefix, 20)
    nginx.stop(h, "/prom%-target%.[%w_]+$")
    error("the target nginx did not come up:\n" .. log)
  end
  return h
end

describe("a real Prometheus scraping usage.prometheus.render", function()
  it("stores the genesys_usage_ series with their labels and values", function()
    local ok, missing = support.available()
    assert(ok, missing)
    assert(support.which("nginx"), "nginx is missing: `make deps` installs it")
    local g = globex()
    local text = prometheus.render_orgs { figures(), g }
    local target = start_target(text)
    local prom
    finally(function()
      if prom then prom:stop() end
      nginx.stop(target, "/prom%-target%.[%w_]+$")
    end)
    prom = support.start { targets = { "127.0.0.1:" .. target.port } }

    -- a series with a client_id label arrives
    local result = prom:wait_for('genesys_usage_oauth_client_requests{client_id!=""}', 180)
    assert.truthy(result[1].metric.client_id)
    assert.truthy(result[1].metric.org)
    assert.equal("genesys_usage_oauth_client_requests", result[1].metric.__name__)
    assert.equal(1, #assert(prom:targets()))

    -- a scrape that fails on a busy machine marks the series stale until the next one: every check
    -- waits for its answer instead of reading once
    local function value(promql)
      return prom:wait_for(promql, 120)[1].value[2]
    end
    assert.equal("1", value('max_over_time(up{job="target_1"}[10m]) == 1'))

    -- values, integers in full
    assert.equal("5994582206", value(
      'genesys_usage_oauth_client_requests{org="acme",client_id="e1757718-6cd5-497a-8c0a-8a7aa9d882fd",period="day"}'))
    assert.equal("179837466180", value(
      'genesys_usage_oauth_client_requests{org="acme",client_id="e1757718-6cd5-497a-8c0a-8a7aa9d882fd",period="month"}'))
    assert.equal("12000", value(
      'genesys_usage_oauth_client_responses{client_id="0f4e9193-0ab2-40bc-9671-10c37a5b87ac",period="day",class="429"}'))
    assert.equal("1796083200", value('genesys_usage_period_end_timestamp_seconds{org="acme",period="day"}'))

    -- every stored series has its org; the forecast's gauges are there for the org that has an allowance
    assert.equal("0", value('count({__name__=~"genesys_usage_.*",org=""}) or vector(0)'))
    local per_org = {}
    for _, r in ipairs(prom:wait_for('count by (org) ({__name__=~"genesys_usage_.*"})', 120)) do
      per_org[r.metric.org] = tonumber(r.value[2])
    end
    assert.truthy(per_org.acme and per_org.globex, "both orgs are stored")
    assert.equal(tostring(g.forecast.allowance.requests), value('genesys_usage_allowance_requests{org="globex"}'))
    assert.equal(tostring(g.forecast.month_to_date.requests), value('genesys_usage_month_to_date_requests{org="globex"}'))
    assert.equal(tostring(g.forecast.projection.requests), value('genesys_usage_projected_requests{org="globex"}'))
    assert.equal(tostring(g.forecast.projection.band.low), value('genesys_usage_projected_low_requests{org="globex"}'))
    assert.equal(tostring(g.forecast.month_to_date.requests),
                 value('genesys_usage_oauth_client_requests{org="globex",period="month"}'))
    assert.equal(0, #prom:query('genesys_usage_allowance_requests{org="acme"}'))

    -- the hostile client name comes back byte for byte
    local hostile = prom:wait_for('genesys_usage_oauth_client_requests{client_id="9b2b7a9e-hostile",period="day"}', 120)
    assert.equal(1, #hostile)
    assert.equal(HOSTILE, hostile[1].metric.client_name)
    assert.equal("42", hostile[1].value[2])

    -- every family of the text is stored, and nothing else under the prefix
    local families = {}
    for name in text:gmatch("# TYPE (%S+)") do families[name] = true end
    local stored = {}
    for _, r in ipairs(prom:wait_for('count by (__name__) (last_over_time({__name__=~"genesys_usage_.*"}[10m]))', 120)) do
      stored[r.metric.__name__] = true
    end
    assert.same(families, stored)

    -- both dashboards' queries run (variables filled in as Grafana would); each answers something
    local function each_target(panels, fn)
      for _, p in ipairs(panels or {}) do
        for _, t in ipairs(p.targets or {}) do fn(p, t) end
        each_target(p.panels, fn)
      end
    end
    local forecast_dashboard = json.decode((assert(nginx.read_file("examples/grafana-forecast-dashboard.json"))))
    each_target(forecast_dashboard.panels, function(p, t)
      local expr = t.expr:gsub("%$org", "globex"):gsub("%$top", "10")
      assert.is_nil(expr:find("$", 1, true), p.title .. ": unknown variable in " .. expr)
      local res = prom:wait_for(expr, 60)
      assert.is_true(#res > 0, p.title)
    end)
    local dashboard_text = nginx.read_file("examples/grafana-dashboard.json")
    assert.truthy(dashboard_text, "examples/grafana-dashboard.json is missing")
    local dashboard = json.decode(dashboard_text)
    local ran = 0
    each_target(dashboard.panels, function(p, t)
      local expr = t.expr:gsub("%$__rate_interval", "1m"):gsub("%$__interval", "1m"):gsub("%$__range", "1d")
        :gsub("%$allowance", "1000000"):gsub("%$period", "month"):gsub("%$top", "10"):gsub("%$org", "acme")
      assert.is_nil(expr:find("$", 1, true), p.title .. ": unknown variable in " .. expr)
      local res, data = prom:query(expr)
      assert.truthy(data.resultType, p.title)
      assert.equal("table", type(res), p.title)
      ran = ran + 1
    end)
    assert.is_true(ran >= 10)
    local top = prom:wait_for('topk(10, last_over_time(genesys_usage_oauth_client_requests{org="acme",period="month"}[10m]))', 120)
    assert.equal(3, #top)
  end)
end)
