-- genesys-usage metrics (issue #13, the command line's part): the Prometheus exposition of the usage per
-- OAuth client for the last complete UTC day and the month to date, checked by `promtool check metrics`
-- (the spec fails without promtool: `make deps` installs the Debian package prometheus), its figures
-- against the fake's raw records, and --output written atomically for node_exporter's textfile collector.

local nginx = require "support.nginx"
local support = require "support.cli"
local usage = require "usage"

local read_file = nginx.read_file

local function promtool(path)
  assert(nginx.run("command -v promtool >/dev/null 2>&1"),
         "promtool is missing: `make deps` installs it (Debian package prometheus)")
  local fh = io.popen("promtool check metrics < " .. nginx.sh_quote(path) .. " 2>&1; echo \"rc=$?\"")
  local out = fh:read("*a")
  fh:close()
  return out
end

-- the value of one sample: name and labels as they are written
local function sample(text, name, labels)
  for line in text:gmatch("[^\n]+") do
    local n, l, v = line:match("^([%w_]+)(%b{}) (%S+)$")
    if not n then n, v = line:match("^([%w_]+) (%S+)$") end
    if n == name and (not labels or l == labels) then return tonumber(v) end
  end
end

describe("genesys-usage metrics", function()
  local fake, t
  local yesterday = usage.interval.yesterday()
  local month = usage.interval.month(yesterday.first:sub(1, 7))

  local fixture = support.with_fake()
  setup(function() fake, t = fixture.start() end)
  teardown(fixture.stop)

  it("passes promtool check metrics and holds both periods, the collector's and the client's figures", function()
    local path = t:path("usage.prom")
    local r = t:run { "metrics", "--output", path, "--quiet" }
    assert.equal(0, r.code, support.show(r))
    assert.equal("", r.out)
    local out = promtool(path)
    assert.equal("rc=0\n", out, "promtool check metrics:\n" .. out)
    local text = read_file(path)
    -- the periods: the last complete day, and the 1st of its month through it
    assert.equal(usage.interval.parse_instant(yesterday.first), sample(text, "genesys_usage_period_start_timestamp_seconds",
                                                                       '{period="day"}'))
    assert.equal(usage.interval.parse_instant(month.first), sample(text, "genesys_usage_period_start_timestamp_seconds",
                                                                   '{period="month"}'))
    assert.equal(usage.interval.parse_instant(yesterday.first) + 86400,
                 sample(text, "genesys_usage_period_end_timestamp_seconds", '{period="month"}'))
    -- a client's figures are the fake's raw sums
    local day_sum, month_sum = 0, 0
    local heavy = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd"
    for _, rec in ipairs(fake:data(month.first, month.last)) do
      if rec.clientId == heavy then
        month_sum = month_sum + rec.requests
        if rec.date == yesterday.first then day_sum = day_sum + rec.requests end
      end
    end
    local labels = '{client_id="' .. heavy .. '",client_name="Bulk Export Service",period="%s"}'
    assert.equal(day_sum, sample(text, "genesys_usage_oauth_client_requests", labels:format("day")))
    assert.equal(month_sum, sample(text, "genesys_usage_oauth_client_requests", labels:format("month")))
    assert.truthy(text:find('genesys_usage_oauth_client_responses{class="429",client_id="' .. heavy, 1, true))
    assert.equal(1, sample(text, "genesys_usage_collect_success"))
    assert.truthy(sample(text, "genesys_usage_collect_success_timestamp_seconds") > 1.7e9)
    assert.truthy(sample(text, "genesys_usage_collect_duration_seconds") >= 0)
    assert.equal(1, sample(text, "genesys_usage_api_logins_total"))
    assert.truthy(sample(text, "genesys_usage_api_requests_total") >= 3)
    assert.equal(300, sample(text, "genesys_usage_api_ratelimit_allowed"))
  end)

  it("caps the client series, and leaves the file as it was when a run fails", function()
    local path = t:path("capped.prom")
    local r = t:run { "metrics", "--max-clients", "3", "--output", path, "--quiet" }
    assert.equal(0, r.code, support.show(r))
    local text = read_file(path)
    assert.equal(3, select(2, text:gsub('genesys_usage_oauth_client_requests{[^\n]*period="day"}', "")))
    assert.truthy(text:find('client_id="other"', 1, true))
    local f = t:run({ "metrics", "--output", path },
                    { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret" } })
    assert.equal(77, f.code) -- EX_NOPERM
    assert.truthy(support.one_line(f.err), f.err)
    assert.equal(text, read_file(path))
    assert.equal(0, #support.temp_files(t.dir))
  end)

  it("prints to stdout, and its --dry-run names the days", function()
    local r = t:run { "metrics", "--quiet" }
    assert.equal(0, r.code, support.show(r))
    assert.truthy(r.out:find("# TYPE genesys_usage_oauth_client_requests gauge", 1, true))
    local d = t:run { "metrics", "--dry-run" }
    assert.truthy(d.out:find("last complete day " .. yesterday.label, 1, true), d.out)
    assert.truthy(d.out:find(month.jobs, 1, true), d.out)
  end)
end)
