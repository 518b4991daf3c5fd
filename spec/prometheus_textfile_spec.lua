-- What genesys-usage metrics writes, read by the tools that read it (issues #20 and #21, their Prometheus
-- parts): a real node_exporter (Debian's prometheus-node-exporter: the textfile collector on a temporary
-- directory, a free loopback port) serving two orgs' files side by side; the alerting rules of
-- examples/prometheus/genesys-usage-rules.yml through `promtool test rules` fed with an exposition the command
-- wrote (the series, names and labels, it really emits); the families and labels both Grafana dashboards
-- query, present in that exposition. Fails (never skips) without prometheus-node-exporter or promtool:
-- `make deps` installs them.

local nginx = require "support.nginx"
local support = require "support.cli"
local exposition = require "support.exposition"
local psupport = require "support.prometheus"
local core = require "usage.core"
local cjson = require("cjson").new()

local sh_quote, read_file, write_file = nginx.sh_quote, nginx.read_file, nginx.write_file

local NODE_EXPORTER = os.getenv("NODE_EXPORTER") or "prometheus-node-exporter"
local RULES = "examples/prometheus/genesys-usage-rules.yml"

local PROFILES = table.concat({
  "[acme]", 'client_credentials = "demo-client"', 'client_secret = "demo-secret"',
  "[globex]", 'client_credentials = "org-viewer"', 'client_secret = "org-viewer-secret"', "",
}, "\n")

-- the key of a sample: its name and its labels in name order (how each tool writes the value differs:
-- node_exporter prints 5.994582206e+09 where the command prints 5994582206)
local function key_of(name, labels)
  local names = {}
  for k in pairs(labels) do names[#names + 1] = k end
  table.sort(names)
  local parts = {}
  for i, k in ipairs(names) do parts[i] = k .. "=" .. string.format("%q", labels[k]) end
  return name .. "{" .. table.concat(parts, ",") .. "}"
end

local function samples_by_key(families)
  local out = {}
  for _, f in ipairs(families) do
    for _, s in ipairs(f.samples) do out[key_of(f.name, s.labels)] = s.value end
  end
  return out
end

-- a node_exporter with only the textfile collector, on a free loopback port, stopped by PID (a shell
-- watchdog stops it if this process dies first) -> { pid, port, url, log(), stop() }
local function start_node_exporter(dir)
  assert(psupport.which(NODE_EXPORTER), NODE_EXPORTER .. " is missing: `make deps` installs it " ..
         "(Debian package prometheus-node-exporter)")
  local session = core.session {}
  local last
  for _ = 1, 5 do
    local port = nginx.pick_port()
    local logf = dir .. "/node_exporter.log"
    local cmd = sh_quote(NODE_EXPORTER) .. " --collector.disable-defaults --collector.textfile" ..
      " --collector.textfile.directory=" .. sh_quote(dir .. "/textfile") ..
      " --web.listen-address=" .. sh_quote("127.0.0.1:" .. port) .. " >>" .. sh_quote(logf) .. " 2>&1 </dev/null"
    local owner = nginx.self_pid()
    local watchdog = "while kill -0 " .. owner .. " 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 1; done; " ..
      "kill -TERM $p 2>/dev/null"
    local fh = assert(io.popen("sh -c " .. sh_quote(cmd .. " & p=$!; echo $p; ( " .. watchdog ..
                                                    " ) >/dev/null 2>&1 </dev/null & echo $!")))
    local pid, wpid = tonumber(fh:read("*l") or ""), tonumber(fh:read("*l") or "")
    fh:close()
    local h = { pid = pid, port = port, url = "http://127.0.0.1:" .. port .. "/metrics" }
    function h.log() return read_file(logf) or "" end
    function h.stop()
      if wpid then nginx.stop_pid(wpid, 1) end
      nginx.stop_pid(pid, 5)
    end
    local deadline = nginx.now() + 60
    repeat
      local status = session:request { method = "GET", url = h.url, timeout = 10, connect_timeout = 2 }
      if status == 200 then return h end
      nginx.sleep(0.1)
    until nginx.now() > deadline or not nginx.pid_alive(pid)
    last = h.log()
    h.stop()
    if not last:find("address already in use", 1, true) then break end
  end
  error("node_exporter did not come up:\n" .. tostring(last))
end

local function scrape(h)
  local session = core.session {}
  local status, _, body = session:request { method = "GET", url = h.url, timeout = 30, connect_timeout = 5 }
  assert(status == 200, "node_exporter answered " .. tostring(status) .. "\n" .. h.log())
  return body
end

local function promtool(args)
  assert(psupport.which("promtool"), "promtool is missing: `make deps` installs it (Debian package prometheus)")
  local p = io.popen("promtool " .. args .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  return out:match("rc=(%d+)\n$") == "0", out
end

describe("what genesys-usage metrics writes", function()
  local fake, t
  local fixture = support.with_fake()
  setup(function()
    fake, t = fixture.start()
    assert(nginx.run("mkdir -p " .. sh_quote(t:path(".gc")) .. " " .. sh_quote(t:path("textfile"))))
    write_file(t:path(".gc/config.toml"), PROFILES)
    assert(nginx.run("chmod 600 " .. sh_quote(t:path(".gc/config.toml")))) -- (no permission warning)
  end)
  teardown(fixture.stop)

  it("two orgs' files in one node_exporter textfile directory: node_exporter serves every series of both", function()
    local files = {}
    for _, org in ipairs { "acme", "globex" } do
      files[org] = t:path("textfile/genesys_usage_" .. org .. ".prom")
      local r = t:run { "metrics", "--profile", org, "--output", files[org], "--quiet" }
      assert.equal(0, r.code, support.show(r))
    end
    local ne = start_node_exporter(t.dir)
    local ok, err = pcall(function()
      local served, by = exposition.parse(scrape(ne))
      local got = samples_by_key(served)
      -- node_exporter read both files, without an error
      for _, org in ipairs { "acme", "globex" } do
        local read = false -- (the file label is the path in node_exporter 1.5, the name in older ones)
        for _, s in ipairs(exposition.samples(by, "node_textfile_mtime_seconds")) do
          if s.labels.file == files[org] or s.labels.file == files[org]:match("[^/]+$") then read = true end
        end
        assert.truthy(read, "the file of " .. org .. " was not read")
      end
      assert.equal(0, exposition.sample(by, "node_textfile_scrape_error"), ne.log())
      -- every series of each file, with its value, and nothing of ours beside them
      local wrote = 0
      for _, org in ipairs { "acme", "globex" } do
        local families = exposition.parse(read_file(files[org]))
        for key, value in pairs(samples_by_key(families)) do
          assert.truthy(got[key], key .. " is missing from what node_exporter serves")
          assert.equal(value, got[key], key)
          wrote = wrote + 1
        end
      end
      local ours = 0
      for key in pairs(got) do if key:find("^genesys_usage_") then ours = ours + 1 end end
      assert.equal(wrote, ours)
      assert.is_true(wrote > 100)
    end)
    ne.stop()
    assert(ok, tostring(err) .. "\n--- node_exporter log:\n" .. ne.log())
  end)

  describe("an exposition of two orgs with allowances", function()
    local text, families, by
    setup(function()
      local path = t:path("orgs.prom")
      -- acme: 1,000 CX 3 seats (the fake's runaway client takes it over); globex: an allowance far above it
      local r = t:run { "metrics", "--profile", "acme", "--profile", "globex", "--licenses", "acme=cx3=1000",
                        "--allowance", "globex=1000000000000", "--output", path, "--quiet" }
      assert(r.code == 0, support.show(r))
      text = read_file(path)
      families, by = exposition.parse(text)
    end)

    it("passes the alerting rules' unit tests: the alerts that fire are those its figures call for", function()
      local rules = assert(read_file(RULES))
      -- each alert's annotations, as templates (summary: one line; description: a folded block)
      local templates, current = {}, nil
      local lines = {}
      for line in (rules .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
      local i = 1
      while i <= #lines do
        local line = lines[i]
        local alert = line:match("^%s*%- alert: (%S+)")
        if alert then current = { name = alert }; templates[alert] = current end
        local summary = line:match('^%s*summary: "(.*)"$')
        if summary and current then current.summary = summary end
        if current and line:match("^%s*description: >%-$") then
          local indent, parts = nil, {}
          i = i + 1
          while i <= #lines do
            local ind, rest = lines[i]:match("^(%s*)(%S.*)$")
            if not ind or (indent and #ind < indent) or (not indent and #ind <= #line:match("^(%s*)")) then break end
            indent = indent or #ind
            parts[#parts + 1] = rest
            i = i + 1
          end
          current.description = table.concat(parts, " ")
          i = i - 1
        end
        i = i + 1
      end
      local function fill(template, org, value)
        local percent = string.format("%.4g%%", value * 100) -- (Go's humanizePercentage: %.4g of the value x 100)
        return (template:gsub("{{ %$labels%.org }}", function() return org end)
                        :gsub("{{ %$value | humanizePercentage }}", function() return percent end))
      end
      -- the expected alerts, from the figures (an hour after the series start, every `for` has passed)
      local function v(name, org) return (exposition.sample(by, name, { org = org })) end
      local expected, firing = {}, 0
      for name in pairs(templates) do expected[name] = {} end
      for _, org in ipairs { "acme", "globex" } do
        local A = assert(v("genesys_usage_allowance_requests", org))
        local P = assert(v("genesys_usage_projected_requests", org))
        local M = assert(v("genesys_usage_month_to_date_requests", org))
        local function fire(name, value, severity)
          local tpl = assert(templates[name], name .. " is not in " .. RULES)
          table.insert(expected[name], { org = org, severity = severity, summary = fill(tpl.summary, org, value),
                                         description = fill(tpl.description, org, value) })
          firing = firing + 1
        end
        if P / A > 1 then fire("GenesysUsageProjectedOverAllowance", P / A, "critical") end
        if P / A > 0.8 and P / A <= 1 then fire("GenesysUsageProjectedNearAllowance", P / A, "warning") end
        if M / A > 1 then fire("GenesysUsageMonthToDateOverAllowance", M / A, "critical") end
        -- (the forecast is fresh and has a projection: GenesysUsageForecastStale and GenesysUsageNoProjection stay quiet)
      end
      assert.is_true(firing >= 1, "the fake's runaway client should take acme over its allowance")
      assert.same({}, expected.GenesysUsageProjectedOverAllowance[2] or {}, "globex's allowance is far above it")
      -- the test file: every sample of the exposition as an input series, held for 90 minutes; the
      -- forecast's timestamp moves with the test clock (a forecast computed every minute), else it is stale
      local series = {}
      for _, f in ipairs(families) do
        for _, s in ipairs(f.samples) do
          local values = s.text .. "x90"
          if f.name == "genesys_usage_forecast_timestamp_seconds" then values = "0+60x90" end
          series[#series + 1] = "      - series: " .. psupport.yaml_string(s.line:match("^(.-) %S+$")) ..
                                "\n        values: " .. psupport.yaml_string(values)
        end
      end
      local tests = {}
      local names = {}
      for name in pairs(expected) do names[#names + 1] = name end
      table.sort(names)
      for _, name in ipairs(names) do
        tests[#tests + 1] = "      - eval_time: 75m\n        alertname: " .. name .. "\n        exp_alerts:" ..
                            (#expected[name] == 0 and " []" or "")
        table.sort(expected[name], function(a, b) return a.org < b.org end)
        for _, a in ipairs(expected[name]) do
          tests[#tests + 1] = "          - exp_labels: { severity: " .. a.severity .. ", org: " .. a.org .. " }\n" ..
                              "            exp_annotations:\n" ..
                              "              summary: " .. psupport.yaml_string(a.summary) .. "\n" ..
                              "              description: " .. psupport.yaml_string(a.description)
        end
      end
      local dir = nginx.temp_dir("usage-rules-real")
      local test_file = dir .. "/test.yml"
      write_file(test_file, "rule_files:\n  - " .. psupport.yaml_string(nginx.absolute(RULES)) ..
        "\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" .. table.concat(series, "\n") ..
        "\n    alert_rule_test:\n" .. table.concat(tests, "\n") .. "\n")
      local ok, out = promtool("test rules " .. sh_quote(test_file))
      local test_text = read_file(test_file)
      nginx.remove_dir(dir)
      assert(ok, out .. "\n--- the test file (alerts):\n" .. table.concat(tests, "\n") .. "\n(" .. #test_text .. " bytes)")
    end)

    it("holds every family and label the Grafana dashboards query", function()
      for _, file in ipairs { "examples/grafana-dashboard.json", "examples/grafana-forecast-dashboard.json" } do
        local dashboard = cjson.decode((assert(read_file(file))))
        local n = 0
        local function walk(panels)
          for _, p in ipairs(panels or {}) do
            for _, target in ipairs(p.targets or {}) do
              local expr = target.expr
              for pos, name in expr:gmatch("()(genesys_usage_[%w_]+)") do
                n = n + 1
                local f = by[name]
                assert.truthy(f, file .. ": " .. p.title .. ": " .. name .. " is not in the exposition")
                local selector = expr:match("^%b{}", pos + #name) or "{}"
                for label, value in selector:gmatch('([%w_]+)="([^"]*)"') do
                  local found = false
                  for _, s in ipairs(f.samples) do
                    if s.labels[label] and (value:find("$", 1, true) or s.labels[label] == value) then found = true end
                  end
                  assert.truthy(found, file .. ": " .. p.title .. ": no " .. name .. " with " .. label .. "=" .. value)
                end
              end
            end
            walk(p.panels)
          end
        end
        walk(dashboard.panels)
        assert.is_true(n >= 10, file)
      end
      -- and the org variables' queries find both orgs
      for _, name in ipairs { "genesys_usage_collect_success", "genesys_usage_allowance_requests" } do
        local orgs = {}
        for _, s in ipairs(by[name].samples) do orgs[s.labels.org] = true end
        assert.same({ acme = true, globex = true }, orgs, name)
      end
      assert.truthy(text:find("# TYPE genesys_usage_projected_requests gauge", 1, true))
    end)
  end)
end)
