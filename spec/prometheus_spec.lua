-- usage.prometheus: the text exposition of the usage figures. Unit specs (values, escaping, order,
-- validation, cardinality cap, folding rows), `promtool check metrics` on a realistic render (the spec
-- fails without promtool: `make deps` installs it), the docs' sample and the Grafana dashboard's queries.

local prometheus = require "usage.prometheus"
local support = require "support.prometheus"
local exposition = require "support.exposition"
local nginx = require "support.nginx"
local cjson = require "cjson"

local json = cjson.new()
local is_54 = math.type ~= nil

---------------------------------------------------------------------------------------------------
-- the output read back strictly (support.exposition: only gauges and counters, no blank line, no timestamp)

local function parse(text)
  return exposition.parse(text, { strict = true })
end

-- sample(by_name, name, labels) -> the value as written of the first sample whose labels include `labels`,
-- the sample | nil
local function sample(by_name, name, labels)
  local s = exposition.samples(by_name, name, labels)[1]
  if s then return s.text, s end
  return nil
end

local HOSTILE = {
  'quote " inside',
  "back\\slash and \\n (not a newline)",
  "line one\nline two",
  "carriage\rreturn\ttab",
  '"}, x="y"} 1\n# HELP injected',
  "Ünïcödé 日本語 😀 ﷽",
  "",
}

local function realistic(n_extra)
  local day, month = {}, {}
  local base = {
    { id = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac", name = "Acme Reporting", requests = 123456789,
      status200 = 123000000, status300 = 6789, status400 = 450000, status429 = 12000, status500 = 0 },
    { id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd", name = "Bulk Export Service", requests = 5994582206,
      status200 = 5994582000, status300 = 0, status400 = 200, status429 = 150, status500 = 6 },
  }
  for i, name in ipairs(HOSTILE) do
    base[#base + 1] = { id = "hostile-" .. i, name = name, requests = i, status200 = i, status400 = 0, status429 = 0 }
  end
  for i = 1, n_extra or 0 do
    base[#base + 1] = { id = string.format("client-%04d", i), name = "Client " .. i, requests = i * 7,
                        status200 = i * 6, status300 = 0, status400 = i, status429 = 0, status500 = 0 }
  end
  for i, c in ipairs(base) do
    day[i] = c
    local m = {}
    for k, v in pairs(c) do m[k] = type(v) == "number" and v * 30 or v end
    month[i] = m
  end
  return {
    usage = {
      day = { first = "2026-11-30", last = "2026-11-30", clients = day },
      month = { first = "2026-11-01", last = "2026-11-30", clients = month },
    },
    collector = { success_timestamp = 1796100000.5, duration = 12.25, errors = 3, last_error = "HTTP 504\nrequest.timeout" },
    client = { requests = 250, retries = 3, responses_429 = 2, logins = 1,
               ratelimit = { count = 17, allowed = 300, reset = 41 } },
  }
end

local function promtool_check(text)
  local ok, why = support.which("promtool"), nil
  if not ok then why = "promtool is missing: `make deps` installs it (Debian package prometheus)" end
  assert(ok, why)
  local path = os.tmpname()
  nginx.write_file(path, text)
  local fh = io.popen("promtool check metrics < " .. nginx.sh_quote(path) .. " 2>&1; echo \"rc=$?\"")
  local out = fh:read("*a")
  fh:close()
  os.remove(path)
  return out
end

---------------------------------------------------------------------------------------------------

describe("usage.prometheus", function()
  describe("value_text", function()
    local v = prometheus.value_text
    it("prints integers in full", function()
      assert.equal("0", v(0))
      assert.equal("42", v(42))
      assert.equal("-7", v(-7))
      assert.equal("1000000000000000", v(1e15))            -- a double, as LuaJIT and cjson give it
      assert.equal("9007199254740992", v(2 ^ 53))
      assert.equal("5994582206", v(5994582206.0))
      assert.equal("123456789012345680", v(123456789012345678.0))  -- the double nearest to it, in full
      if is_54 then
        assert.equal("9007199254740993", v(math.tointeger(2 ^ 53) + 1))
        assert.equal("9223372036854775807", v(math.maxinteger))
        assert.equal("-9223372036854775808", v(math.mininteger))
      end
    end)

    it("prints other numbers so that they read back the same", function()
      for _, x in ipairs { 0.1, 1 / 3, 2.5, -1e-300, 1.7976931348623157e308, 12.25, 1e21 + 1e6, 4.9e-324 } do
        local text = v(x)
        assert.equal(x, tonumber(text), text)
        assert.is_nil(text:find("[^%d%.eE%+%-]"), text)
      end
      assert.equal("0.1", v(0.1))
      assert.equal("12.25", v(12.25))
    end)

    it("spells the non-finite values as Prometheus does", function()
      assert.equal("+Inf", v(math.huge))
      assert.equal("-Inf", v(-math.huge))
      assert.equal("NaN", v(0 / 0))
    end)
  end)

  describe("escaping", function()
    it("escapes backslash, double quote and newline in label values, nothing else", function()
      assert.equal([[a\\b\"c\nd]], prometheus.escape_label_value('a\\b"c\nd'))
      assert.equal("tab\tcr\r{}=,#", prometheus.escape_label_value("tab\tcr\r{}=,#"))
      assert.equal("日本 😀", prometheus.escape_label_value("日本 😀"))
    end)

    it("escapes backslash and newline in HELP, not quotes", function()
      assert.equal([[a\\b"c\nd]], prometheus.escape_help('a\\b"c\nd'))
    end)

    it("replaces bytes that are not UTF-8 with U+FFFD", function()
      local r = "\239\191\189"
      assert.equal("ok", prometheus.valid_utf8("ok"))
      assert.equal("é日😀", prometheus.valid_utf8("é日😀"))
      assert.equal("a" .. r .. "b", prometheus.valid_utf8("a\255b"))
      assert.equal(r .. r, prometheus.valid_utf8("\192\175"))            -- overlong "/"
      assert.equal(r .. r .. r, prometheus.valid_utf8("\237\160\128"))   -- a surrogate
      assert.equal(r .. r .. r .. r, prometheus.valid_utf8("\244\144\128\128")) -- above U+10FFFF
      assert.equal("x" .. r .. r, prometheus.valid_utf8("x\226\130"))     -- cut short: each byte replaced
      assert.equal("x" .. r .. "y", prometheus.valid_utf8("x\128y"))      -- a stray continuation byte
    end)
  end)

  describe("writer", function()
    it("writes families by name and samples by label set, whatever the order they came in", function()
      local function build(order)
        local w = prometheus.writer()
        local fams = {
          function() w:family("b_things", "gauge", "B."):add({ x = "2" }, 2):add({ x = "1" }, 1):add({ x = "10" }, 10) end,
          function() w:family("a_events_total", "counter", "A."):add(nil, 5) end,
          function() w:family("c_things", "gauge", "C."):add({ z = "1", a = "2" }, 1):add({ a = "1", z = "2" }, 2) end,
        }
        for _, i in ipairs(order) do fams[i]() end
        return w:render()
      end
      local text = build { 1, 2, 3 }
      assert.equal(text, build { 3, 2, 1 })
      assert.equal(text, build { 2, 3, 1 })
      assert.equal(table.concat({
        "# HELP a_events_total A.", "# TYPE a_events_total counter", "a_events_total 5",
        "# HELP b_things B.", "# TYPE b_things gauge",
        'b_things{x="1"} 1', 'b_things{x="10"} 10', 'b_things{x="2"} 2',
        "# HELP c_things C.", "# TYPE c_things gauge",
        'c_things{a="1",z="2"} 2', 'c_things{a="2",z="1"} 1', "",
      }, "\n"), text)
    end)

    it("renders the same bytes twice and leaves families without samples out", function()
      local w = prometheus.writer()
      w:family("empty_things", "gauge", "Nothing.")
      w:family("some_things", "gauge", "Help with \\ and\nnewline."):add({ v = 'q"\n\\' }, 1.5)
      local a = w:render()
      assert.equal(a, w:render())
      assert.is_nil(a:find("empty_things", 1, true))
      assert.equal('# HELP some_things Help with \\\\ and\\nnewline.\n# TYPE some_things gauge\n' ..
        'some_things{v="q\\"\\n\\\\"} 1.5\n', a)
      assert.equal("", prometheus.writer():render())
    end)

    it("takes numbers as label values and adds samples through the writer too", function()
      local w = prometheus.writer()
      w:family("n_things", "gauge", "N.")
      w:add("n_things", { n = 3 }, 1):add("n_things", { n = 1e15 }, 2)
      assert.equal('# HELP n_things N.\n# TYPE n_things gauge\nn_things{n="1000000000000000"} 2\nn_things{n="3"} 1\n',
        w:render())
    end)

    it("returns the same family when it is declared again alike", function()
      local w = prometheus.writer()
      local f = w:family("x_things", "gauge", "X.")
      assert.equal(f, w:family("x_things", "gauge", "X."))
      assert.has_error(function() w:family("x_things", "gauge", "Other help.") end)
      f:add({}, 1)
      assert.equal(1, f:size())
    end)

    it("raises on programmer errors", function()
      local w = prometheus.writer()
      local errs = {
        function() w:family("1abc", "gauge", "h") end,
        function() w:family("a-b", "gauge", "h") end,
        function() w:family("", "gauge", "h") end,
        function() w:family(nil, "gauge", "h") end,
        function() w:family("x_things", "histogram", "h") end,
        function() w:family("x_things", "gauge", nil) end,
        function() w:family("x_things", "gauge", "") end,
        function() w:family("x_events", "counter", "h") end,       -- counters end in _total
        function() w:family("x_things_total", "gauge", "h") end,   -- and only counters
        function() w:add("undeclared", {}, 1) end,
      }
      for i, fn in ipairs(errs) do assert.has_error(fn, nil, "case " .. i) end
      local f = w:family("ok_things", "gauge", "h")
      for i, fn in ipairs {
        function() f:add({ ["1x"] = "v" }, 1) end,
        function() f:add({ ["a-b"] = "v" }, 1) end,
        function() f:add({ __name__ = "v" }, 1) end,
        function() f:add({ [1] = "v" }, 1) end,
        function() f:add({ a = true }, 1) end,
        function() f:add({ a = "v" }, "1") end,
        function() f:add({ a = "v" }, nil) end,
        function() f:add("a=v", 1) end,
      } do assert.has_error(fn, nil, "sample case " .. i) end
      f:add({ a = "v", b = "w" }, 1)
      assert.has_error(function() f:add({ b = "w", a = "v" }, 2) end, nil, "the same label set twice")
      local ok, err = pcall(w.family, w, "x_events", "counter", "h")
      assert.is_false(ok)
      assert.matches("usage.prometheus: counter x_events must end in _total", err, 1, true)
    end)
  end)

  describe("render", function()
    it("gives valid, empty output for empty input", function()
      assert.equal("", prometheus.render {})
      assert.equal("", prometheus.render())
      assert.equal("", prometheus.render { usage = {} })
      assert.equal("", prometheus.render { usage = { day = { clients = {} } } })
    end)

    it("writes requests and responses per OAuth client and period, and the days each period covers", function()
      local text = prometheus.render(realistic())
      local families, by_name = parse(text)
      assert.is_true(#families >= 10)
      local acme = { client_id = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac", client_name = "Acme Reporting" }
      local function with(t, extra)
        local out = {}
        for k, v in pairs(t) do out[k] = v end
        for k, v in pairs(extra) do out[k] = v end
        return out
      end
      assert.equal("123456789", sample(by_name, "genesys_usage_oauth_client_requests", with(acme, { period = "day" })))
      assert.equal("3703703670", sample(by_name, "genesys_usage_oauth_client_requests", with(acme, { period = "month" })))
      assert.equal("5994582206", sample(by_name, "genesys_usage_oauth_client_requests",
        { client_id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd", period = "day" }))
      for class, value in pairs { ["2xx"] = "123000000", ["3xx"] = "6789", ["4xx"] = "450000", ["429"] = "12000", ["5xx"] = "0" } do
        assert.equal(value, sample(by_name, "genesys_usage_oauth_client_responses", with(acme, { period = "day", class = class })))
      end
      -- absent counts give no sample
      assert.is_nil(sample(by_name, "genesys_usage_oauth_client_responses", { client_id = "hostile-1", class = "5xx" }))
      assert.equal("1795996800", sample(by_name, "genesys_usage_period_start_timestamp_seconds", { period = "day" }))
      assert.equal("1796083200", sample(by_name, "genesys_usage_period_end_timestamp_seconds", { period = "day" }))
      assert.equal("1793491200", sample(by_name, "genesys_usage_period_start_timestamp_seconds", { period = "month" }))
      assert.equal("1796083200", sample(by_name, "genesys_usage_period_end_timestamp_seconds", { period = "month" }))
      assert.matches("429 is a subset of 4xx", by_name.genesys_usage_oauth_client_responses.help, 1, true)
      -- every family is declared in FAMILIES with its type as the name says
      local known = {}
      for _, name in pairs(prometheus.FAMILIES) do known[name] = true end
      for _, f in ipairs(families) do
        assert.is_true(known[f.name], f.name)
        assert.equal(f.name:match("_total$") and "counter" or "gauge", f.type, f.name)
        assert.truthy(f.help and f.help ~= "", f.name)
      end
    end)

    it("writes what the collector and the client saw", function()
      local _, by_name = parse(prometheus.render(realistic()))
      assert.equal("1796100000.5", sample(by_name, "genesys_usage_collect_success_timestamp_seconds"))
      assert.equal("12.25", sample(by_name, "genesys_usage_collect_duration_seconds"))
      assert.equal("3", sample(by_name, "genesys_usage_collect_errors_total"))
      assert.equal("0", sample(by_name, "genesys_usage_collect_success"))      -- last_error is set
      assert.equal("250", sample(by_name, "genesys_usage_api_requests_total"))
      assert.equal("3", sample(by_name, "genesys_usage_api_retries_total"))
      assert.equal("2", sample(by_name, "genesys_usage_api_rate_limited_total"))
      assert.equal("1", sample(by_name, "genesys_usage_api_logins_total"))
      assert.equal("17", sample(by_name, "genesys_usage_api_ratelimit_used"))
      assert.equal("300", sample(by_name, "genesys_usage_api_ratelimit_allowed"))
      assert.equal("41", sample(by_name, "genesys_usage_api_ratelimit_reset_seconds"))

      local text = prometheus.render { collector = { success_timestamp = 1, errors = 0 } }
      local _, b = parse(text)
      assert.equal("1", sample(b, "genesys_usage_collect_success"))
      assert.equal("0", sample(b, "genesys_usage_collect_errors_total"))
      _, b = parse(prometheus.render { collector = {} })
      assert.equal("0", sample(b, "genesys_usage_collect_success"))         -- nothing collected yet
      _, b = parse(prometheus.render { client = { requests = 1 } })
      assert.is_nil(b.genesys_usage_api_ratelimit_used)
    end)

    it("keeps the last error on one comment line", function()
      local text = prometheus.render { collector = { last_error = "bad\nthing \\ \"x\"\r" .. string.rep("é", 400) } }
      local first = text:match("^([^\n]*)\n")
      assert.matches('^# genesys_usage_collect_last_error{org="default"} bad thing ', first)
      assert.is_true(#first < 400)
      assert.equal(first, prometheus.valid_utf8(first))
      parse(text)
    end)

    it("escapes hostile client names so that they read back as they were", function()
      local text = prometheus.render(realistic())
      local _, by_name = parse(text)
      for i, name in ipairs(HOSTILE) do
        local value, s = sample(by_name, "genesys_usage_oauth_client_requests", { client_id = "hostile-" .. i, period = "day" })
        assert.equal(tostring(i), value)
        assert.equal(name, s.labels.client_name)
      end
      -- no line of the output starts inside a label value
      for line in text:gmatch("[^\n]+") do
        assert.truthy(line:match("^# ") or line:match("^genesys_usage_[a-z_0-9]+[{ ]"), line)
      end
      -- bytes that are not UTF-8 are replaced
      local _, b = parse(prometheus.render { usage = { day = { clients = { { id = "x\255", name = "\192bad", requests = 1 } } } } })
      local _, s = sample(b, "genesys_usage_oauth_client_requests", {})
      assert.equal("x\239\191\189", s.labels.client_id)
      assert.equal("\239\191\189bad", s.labels.client_name)
    end)

    it("renders the same bytes for the same figures, in any order", function()
      local f = realistic(40)
      local a = prometheus.render(f)
      assert.equal(a, prometheus.render(f))
      local reversed = {}
      for i, c in ipairs(f.usage.day.clients) do reversed[#f.usage.day.clients + 1 - i] = c end
      f.usage.day.clients = reversed
      assert.equal(a, prometheus.render(f))
    end)

    it("prints counts above 2^32 and up to 2^53 in full on both interpreters", function()
      local big = 2 ^ 53                                              -- exact in a double
      local text = prometheus.render { usage = { month = { first = "2026-11-01", last = "2026-11-30", clients = {
        { id = "a", name = "A", requests = big, status200 = 1e15, status400 = 4294967296 * 3, status429 = 2 ^ 31 },
      } } } }
      assert.matches('genesys_usage_oauth_client_requests{client_id="a",client_name="A",org="default",period="month"} 9007199254740992\n', text, 1, true)
      assert.matches('class="2xx",client_id="a",client_name="A",org="default",period="month"} 1000000000000000\n', text, 1, true)
      assert.matches('class="4xx",client_id="a",client_name="A",org="default",period="month"} 12884901888\n', text, 1, true)
      assert.matches('class="429",client_id="a",client_name="A",org="default",period="month"} 2147483648\n', text, 1, true)
      assert.is_nil(text:find("e+", 1, true))
      if is_54 then -- Lua 5.4 integers beyond 2^53 stay exact
        local t = prometheus.render { usage = { day = { clients = { { id = "a", requests = math.tointeger(2 ^ 53) + 1 } } } } }
        assert.matches(" 9007199254740993\n", t, 1, true)
      end
    end)

    it("caps the OAuth-client series per family and period, summing the rest into client_id=\"other\"", function()
      local clients = {}
      local total, n = 0, 1200
      for i = 1, n do
        clients[i] = { id = string.format("c%04d", i), name = "C" .. i, requests = i, status200 = i, status429 = 1 }
        total = total + i
      end
      local text = prometheus.render { max_clients = 500,
        usage = { day = { clients = clients }, month = { clients = clients } } }
      local _, by_name = parse(text)
      local req = by_name.genesys_usage_oauth_client_requests.samples
      assert.equal(1000, #req)                                        -- 500 per period
      local kept, sum = 0, 0
      for _, s in ipairs(req) do
        if s.labels.period == "day" then
          sum = sum + tonumber(s.value)
          if s.labels.client_id ~= "other" then
            kept = kept + 1
            assert.is_true(tonumber(s.labels.client_id:sub(2)) > n - 499, "a top client: " .. s.labels.client_id)
          end
        end
      end
      assert.equal(499, kept)
      assert.equal(total, sum)                                         -- nothing lost
      local other = 0
      for i = 1, n - 499 do other = other + i end
      assert.equal(tostring(other), sample(by_name, "genesys_usage_oauth_client_requests", { client_id = "other", period = "day" }))
      assert.equal(tostring(n - 499), sample(by_name, "genesys_usage_oauth_client_responses",
        { client_id = "other", period = "month", class = "429" }))
      assert.equal(500 * 2 * 2, #by_name.genesys_usage_oauth_client_responses.samples) -- 2xx and 429 only
      -- the default cap is 500 too; a cap of 1 sums everything
      local _, b = parse(prometheus.render { max_clients = 1, usage = { day = { clients = clients } } })
      assert.equal(1, #b.genesys_usage_oauth_client_requests.samples)
      assert.equal(tostring(total), sample(b, "genesys_usage_oauth_client_requests", { client_id = "other" }))
      _, b = parse(prometheus.render { usage = { day = { clients = clients } } })
      assert.equal(prometheus.DEFAULT_MAX_CLIENTS, #b.genesys_usage_oauth_client_requests.samples)
    end)

    it("merges clients given twice", function()
      local _, b = parse(prometheus.render { usage = { day = { clients = {
        { id = "a", name = "A", requests = 1 }, { id = "a", name = "A", requests = 2 }, { id = "a", name = "A2", requests = 4 },
      } } } })
      assert.equal("3", sample(b, "genesys_usage_oauth_client_requests", { client_id = "a", client_name = "A" }))
      assert.equal("4", sample(b, "genesys_usage_oauth_client_requests", { client_id = "a", client_name = "A2" }))
    end)

    it("raises on programmer errors", function()
      for i, figures in ipairs {
        "text",
        { usage = "x" },
        { usage = { day = { clients = "x" } } },
        { usage = { day = { clients = { "x" } } } },
        { usage = { day = { clients = { { id = 1 } } } } },
        { usage = { day = { clients = { { id = "a", requests = "12" } } } } },
        { usage = { day = { first = "2026-11-31", last = "2026-11-31" } } },
        { usage = { day = { first = "2026-11-30" } } },
        { usage = { day = { first = "2026-11-30T00:00:00Z", last = "2026-11-30" } } },
        { usage = { month = { first = "2026-11-30", last = "2026-11-01" } } },
        { collector = { errors = "1" } },
        { collector = { last_error = {} } },
        { client = { ratelimit = 5 } },
        { max_clients = 0 },
        { max_clients = 2.5 },
        { max_clients = "10" },
      } do
        assert.has_error(function() prometheus.render(figures) end, nil, "case " .. i)
      end
    end)

    it("passes promtool check metrics (format and naming lint)", function()
      local text = prometheus.render(realistic(600))
      local out = promtool_check(text)
      assert.equal("rc=0\n", out, "promtool check metrics:\n" .. out)
      local minimal = promtool_check(prometheus.render { collector = { errors = 0 } })
      assert.equal("rc=0\n", minimal)
    end)
  end)

  describe("the org label and several orgs", function()
    local forecast = require "usage.forecast"
    local interval = require "usage.base.interval"

    -- a forecast of synthetic rows (now: 20 March 2026)
    local function a_forecast(org, allowance)
      local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
      local span = forecast.span(now)
      local rows = {}
      for d = span.first_day, span.last_day do
        rows[#rows + 1] = { date = interval.date(d), client_id = "c1", client_name = "Sync", requests = 3000000 + (d % 7) * 1000 }
      end
      return assert(forecast.compute { now = now, org = org, allowance = allowance, rows = rows })
    end

    it("puts org on every series: figures.org, else \"default\"", function()
      for _, org in ipairs { "acme", 'Quote " and \\ and Ünïcödé', nil } do
        local f = realistic()
        f.org = org
        f.forecast = a_forecast("ignored", 140000000)
        local families = parse(prometheus.render(f))
        assert.is_true(#families >= 20)
        for _, fam in ipairs(families) do
          for _, smp in ipairs(fam.samples) do
            assert.equal(org or "default", smp.labels.org, fam.name)
          end
        end
      end
      for _, bad in ipairs { "", 5, "a\tb", {} } do
        assert.has_error(function() prometheus.render { org = bad } end)
      end
    end)

    it("render_orgs: one exposition, each family once with its HELP and TYPE, every series labelled; promtool agrees", function()
      local a, b = realistic(3), realistic(1)
      a.org, b.org = "acme", "globex"
      a.forecast = a_forecast("acme", 140000000)
      a.collector.last_error = nil
      b.collector = { errors = 1, last_error = "HTTP 403 missing.any.permissions" }
      local text = prometheus.render_orgs { a, b }
      local families, by_name = parse(text)
      for _, fam in ipairs(families) do
        local orgs = {}
        for _, smp in ipairs(fam.samples) do
          assert.truthy(smp.labels.org == "acme" or smp.labels.org == "globex", fam.name)
          orgs[smp.labels.org] = true
        end
        if fam.name:find("^genesys_usage_oauth_client_re") or fam.name:find("^genesys_usage_period_") or
           fam.name:find("^genesys_usage_api_") or fam.name == "genesys_usage_collect_success" then
          assert.same({ acme = true, globex = true }, orgs, fam.name)
        end
      end
      assert.equal(1, select(2, text:gsub("# TYPE genesys_usage_oauth_client_requests ", "")))
      assert.equal("140000000", sample(by_name, "genesys_usage_allowance_requests", { org = "acme" }))
      assert.is_nil(sample(by_name, "genesys_usage_allowance_requests", { org = "globex" }))
      assert.equal(tostring(a.forecast.month_to_date.requests), sample(by_name, "genesys_usage_month_to_date_requests", { org = "acme" }))
      assert.equal("0", sample(by_name, "genesys_usage_collect_success", { org = "globex" }))
      assert.equal("1", sample(by_name, "genesys_usage_collect_success", { org = "acme" }))
      assert.truthy(text:find('\n# genesys_usage_collect_last_error{org="globex"} HTTP 403', 1, true) or
                    text:find('^# genesys_usage_collect_last_error{org="globex"} HTTP 403'))
      local out = promtool_check(text)
      assert.equal("rc=0\n", out, "promtool check metrics:\n" .. out)
      -- two orgs with one label would collide: a programmer error
      assert.has_error(function() prometheus.render_orgs { { org = "x" }, { org = "x" } } end)
      assert.has_error(function() prometheus.render_orgs { {}, { org = "default" } } end)
      assert.equal("", prometheus.render_orgs {})
    end)

    it("plan: with the forecast, one job from the 1st of last month through yesterday", function()
      local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
      local p = assert(prometheus.plan { now = now })
      assert.equal("2026-03-01", p.span.first)
      assert.equal("2026-03-19", p.span.last)
      assert.is_nil(p.forecast)
      p = assert(prometheus.plan { now = now, forecast = true })
      assert.equal(forecast.span(now).first, p.span.first)
      assert.equal("2026-02-01", p.span.first)
      assert.equal("2026-03-19", p.span.last)
      assert.equal("2026-03-01", p.month.first)
      -- on the 1st: the month period is the whole last month, the forecast's span starts a month earlier
      p = assert(prometheus.plan { now = assert(interval.parse_instant("2026-03-01T01:00:00Z")), forecast = true })
      assert.equal("2026-02-01", p.month.first)
      assert.equal("2026-02-01", p.span.first)                     -- (1 February - 28 February: both)
      assert.equal("2026-02-28", p.span.last)
      assert.equal(p.span.jobs, prometheus.job_body(p).interval)
    end)

    it("periods: the job's rows feed the periods and the forecast alike, and the forecast's days only", function()
      local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
      local p = assert(prometheus.plan { now = now, forecast = true, days = 60 })
      assert.is_true(p.span.first < p.forecast.first) -- (60 days reach before the forecast's span)
      local acc = prometheus.periods(p)
      local rows = {}
      for d = p.span.first_day, p.span.last_day do
        rows[#rows + 1] = { date = interval.date(d), oauthClient = { id = "c1", name = "Sync" }, requestCount = 10,
                            status200 = 10, status300 = 0, status400 = 0, status429 = 0, status500 = 0 }
      end
      acc:add_rows(rows)
      local input = acc:forecast_input({ "job-1" })
      assert.equal(p.forecast.count, #input.rows)                  -- one row a day of the forecast's span
      assert.equal(0, input.source.outside)                        -- the days before it were asked for too
      assert.same({ "job-1" }, input.source.jobs)
      local result = acc:result()
      assert.equal(10 * p.month.count, result.month.clients[1].requests)
      assert.equal(10 * 60, result.recent.clients[1].requests)
      -- a row the server sent for a day nobody asked for is counted as such
      acc:add_rows { { date = "2026-03-20", oauthClient = { id = "c1" }, requestCount = 1 } }
      assert.equal(1, acc:forecast_input({}).source.outside)
    end)
  end)

  describe("fold_rows and client_totals", function()
    local null = cjson.null
    local rows = {
      { date = "2026-11-02", oauthClient = { id = "a", name = "Old name" }, requestCount = 10, status200 = 9, status400 = 1,
        status429 = 1, status300 = 0, status500 = 0 },
      { date = "2026-11-03", oauthClient = { id = "a", name = "New name" }, requestCount = 20, status200 = 20, status400 = 0,
        status429 = 0, status300 = 0, status500 = 0 },
      { date = "2026-11-01", oauthClient = { id = "a", name = "Oldest" }, requestCount = 1, status200 = 1 },
      { date = "2026-11-02", oauthClient = { name = "No id" }, requestCount = 5, status200 = null },
      { date = "2026-11-03", oauthClient = { name = "No id" }, requestCount = 6 },
      { date = "2026-11-04", oauthClient = null, requestCount = 7 },
      { date = "2026-11-02", clientId = "b", clientName = "Old generation", requests = 3, status200 = 3 },
    }

    it("sums rows per client id, keys rows without one by name, keeps the latest name", function()
      local clients = prometheus.fold_rows(rows)
      assert.same({
        { id = "a", name = "New name", requests = 31, status200 = 30, status300 = 0, status400 = 1, status429 = 1, status500 = 0 },
        { id = "", name = "No id", requests = 11 },
        { id = "", name = "", requests = 7 },
        { id = "b", name = "Old generation", requests = 3, status200 = 3 },
      }, clients)
    end)

    it("folds a stream of pages and knows the days it saw", function()
      local totals = prometheus.client_totals()
      totals:add_rows { rows[1], rows[2] }
      totals:add(rows[3])
      assert.same({ { id = "a", name = "New name", requests = 31, status200 = 30, status300 = 0, status400 = 1,
                      status429 = 1, status500 = 0 } }, totals:clients())
      local first, last = totals:days()
      assert.equal("2026-11-01", first)
      assert.equal("2026-11-03", last)
      assert.is_nil(prometheus.client_totals():days())
      assert.same({}, prometheus.fold_rows({}))
      assert.has_error(function() prometheus.fold_rows("x") end)
      assert.has_error(function() prometheus.client_totals():add(5) end)
    end)

    it("feeds render", function()
      local text = prometheus.render { usage = { day = { first = "2026-11-01", last = "2026-11-04",
                                                         clients = prometheus.fold_rows(rows) } } }
      local _, b = parse(text)
      assert.equal("31", sample(b, "genesys_usage_oauth_client_requests", { client_id = "a", client_name = "New name" }))
      assert.equal("11", sample(b, "genesys_usage_oauth_client_requests", { client_id = "", client_name = "No id" }))
    end)
  end)

  describe("docs and dashboard", function()
    local known = {}
    for _, name in pairs(prometheus.FAMILIES) do known[name] = true end

    it("every family can be emitted, and docs/metrics.md describes each one", function()
      local _, by_name = parse(prometheus.render(realistic()))
      local doc = assert(nginx.read_file("docs/metrics.md"), "docs/metrics.md is missing")
      for name in pairs(known) do
        assert.truthy(by_name[name], name .. " is never rendered")
        assert.truthy(doc:find("`" .. name .. "`", 1, true), name .. " is not in docs/metrics.md")
      end
    end)

    it("the samples in docs/metrics.md are what docs/gen_metrics_sample.lua prints", function()
      local interp = jit and "luajit" or "lua5.4"
      local build = jit and "build/luajit" or "build/lua5.4"
      local doc = nginx.read_file("docs/metrics.md")
      local n = 0
      for args, block in doc:gmatch("<!%-%- sample: docs/gen_metrics_sample%.lua ?([%w ]*) %-%->\n```text\n(.-)```") do
        local p = io.popen("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='" .. build .. "/?.so;;' " .. interp ..
                           " docs/gen_metrics_sample.lua " .. args .. " 2>&1")
        local generated = p:read("*a")
        p:close()
        assert.truthy(generated:find("genesys_usage_oauth_client_requests", 1, true), generated)
        assert.equal(generated, block, "docs/metrics.md, sample '" .. args .. "': run docs/gen_metrics_sample.lua again")
        n = n + 1
      end
      assert.equal(2, n, "docs/metrics.md has not its two sample blocks")
    end)

    -- both dashboards: the usage one and the forecast's; families of usage.prometheus and usage.forecast
    local forecast_families = {}
    for _, f in ipairs(require("usage.forecast").FAMILIES) do forecast_families[f.name] = true end
    for _, case in ipairs {
      { file = "examples/grafana-dashboard.json", min = 10, must = { "genesys_usage_collect_success_timestamp_seconds",
                                                                     "genesys_usage_oauth_client_responses" } },
      { file = "examples/grafana-forecast-dashboard.json", min = 9, must = { "genesys_usage_month_to_date_requests",
                                                                             "genesys_usage_allowance_requests" } },
    } do
      it(case.file .. " parses, selects an org, and its queries name only families the modules emit", function()
        local text = nginx.read_file(case.file)
        assert.truthy(text, case.file .. " is missing")
        local dashboard = json.decode(text)
        local variables = {}
        for _, v in ipairs(dashboard.templating.list) do variables[v.name] = v end
        assert.truthy(variables.org, "the dashboard has no org variable")
        assert.truthy(variables.org.definition:find("^label_values%(genesys_usage_[%w_]+, org%)$"), variables.org.definition)
        local exprs = {}
        local function walk(panels)
          for _, p in ipairs(panels or {}) do
            for _, t in ipairs(p.targets or {}) do exprs[#exprs + 1] = { panel = p, title = p.title, expr = t.expr } end
            walk(p.panels)
          end
        end
        walk(dashboard.panels)
        assert.is_true(#exprs >= case.min)
        local used, per_panel = {}, {}
        for _, e in ipairs(exprs) do
          per_panel[e.panel] = per_panel[e.panel] or 0
          for pos, name in e.expr:gmatch("()(genesys_usage_[%w_]+)") do
            local selector = e.expr:match("^%b{}", pos + #name) or ""
            assert.truthy(known[name] or forecast_families[name], e.title .. ": " .. name .. " is not a family of " ..
                          "usage.prometheus or usage.forecast")
            -- every series of one org: each selector names it
            assert.truthy(selector:find('org="$org"', 1, true), e.title .. ": " .. name .. " without org=\"$org\"")
            used[name] = true
            per_panel[e.panel] = per_panel[e.panel] + 1
          end
          -- a query without a family is a constant line (the allowance)
          assert.truthy(e.expr:find("genesys_usage_", 1, true) or e.expr:match("^vector%(%$[%w_]+%)$"), e.expr)
          for var in e.expr:gmatch("%$([%w_]+)") do
            assert.truthy(variables[var] or var:match("^__"), e.title .. ": unknown variable $" .. var)
          end
        end
        for panel, n in pairs(per_panel) do
          assert.is_true(n > 0 or panel.targets[1].expr:match("^vector"), panel.title .. ": no genesys_usage_ family")
        end
        for _, name in ipairs(case.must) do assert.truthy(used[name], name .. " is on no panel") end

        -- the queries parse (promtool check rules, variables filled in as Grafana would)
        local rules = { "groups:", "  - name: dashboard", "    rules:" }
        for i, e in ipairs(exprs) do
          local expr = e.expr:gsub("%$__rate_interval", "5m"):gsub("%$__interval", "1m"):gsub("%$__range", "1d")
            :gsub("%$allowance", "1000000"):gsub("%$period", "month"):gsub("%$top", "10"):gsub("%$org", "acme")
          rules[#rules + 1] = "      - record: dashboard:expr_" .. i
          rules[#rules + 1] = "        expr: " .. support.yaml_string(expr)
        end
        assert(support.which("promtool"), "promtool is missing: `make deps` installs it (Debian package prometheus)")
        local path = os.tmpname()
        nginx.write_file(path, table.concat(rules, "\n") .. "\n")
        local p = io.popen("promtool check rules " .. nginx.sh_quote(path) .. " 2>&1; echo \"rc=$?\"")
        local out = p:read("*a")
        p:close()
        os.remove(path)
        assert.truthy(out:find("rc=0\n", 1, true), "promtool check rules:\n" .. out)
        assert.truthy(out:find("SUCCESS: " .. #exprs .. " rules found", 1, true), out)
      end)
    end
  end)
end)
