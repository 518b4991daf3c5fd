-- usage.sanitize, the one place where text from a server is made safe for an output (issue #17, items 14,
-- 15, 16), and the number and day helpers of the writers (items 6, 19). The oracles are Python's: its
-- UTF-8 decoder with errors="replace" (Unicode's maximal-subpart practice), unicodedata's categories,
-- json, csv and xml.dom.minidom.

local sanitize = require "usage.base.sanitize"
local nginx = require "support.nginx"
local cjson = require("cjson").new()

assert(nginx.run("command -v python3 >/dev/null 2>&1"), "this spec needs python3")

local sh = nginx.sh_quote

-- python3 -c CODE with `input` in a file (argv[1]); its stdout
local function python(code, input)
  local path = os.tmpname()
  nginx.write_file(path, input or "")
  local p = io.popen("python3 -c " .. sh(code) .. " " .. sh(path) .. " 2>&1")
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return out
end

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

-- n byte strings from a fixed generator (no math.random: its sequence differs between interpreters),
-- biased towards the bytes that make UTF-8 ill-formed or dangerous
local function corpus(n)
  local BYTES = { 0x00, 0x07, 0x09, 0x0A, 0x0D, 0x1B, 0x20, 0x22, 0x27, 0x2B, 0x2D, 0x3C, 0x3D, 0x40, 0x41, 0x5C, 0x7F,
                  0x80, 0x8F, 0x9B, 0xA0, 0xAD, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4,
                  0xF5, 0xFF, 0x80, 0x81, 0xBE, 0xBF, 0xA8, 0xAE, 0xA6, 0xA9, 0x8B }
  local seed, out = 12345, {}
  local function nextn(m)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % m
  end
  for i = 1, n do
    local len, b = nextn(14), {}
    for k = 1, len do
      b[k] = string.char(nextn(3) == 0 and (0x20 + nextn(95)) or BYTES[nextn(#BYTES) + 1])
    end
    out[i] = table.concat(b)
  end
  return out
end

describe("usage.base.sanitize", function()
  it("utf8: ill-formed sequences become U+FFFD exactly as Python's decoder replaces them", function()
    local cases = corpus(3000)
    for _, s in ipairs { "\237\160\128", "\226\130", "\192\175", "\244\144\128\128", "\240\128\128", "ok", "" } do
      cases[#cases + 1] = s
    end
    local lines = {}
    for i, s in ipairs(cases) do lines[i] = hex(s) end
    local out = python([[
import sys
for line in open(sys.argv[1]).read().split("\n"):
    print(bytes.fromhex(line).decode("utf-8", "replace").encode("utf-8").hex())
]], table.concat(lines, "\n"))
    local i = 0
    for want in out:gmatch("([^\n]*)\n") do
      i = i + 1
      assert.equal(want, hex(sanitize.utf8(cases[i])), "input " .. lines[i])
    end
    assert.equal(#cases, i, out:sub(1, 300))
  end)

  it("display: every code point Unicode calls a control, format, separator, surrogate or noncharacter is escaped", function()
    -- Python's list, as ranges
    local out = python([[
import unicodedata
r, s, p = [], None, None
for o in range(0x110000):
    c = chr(o)
    bad = unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") or (o & 0xFFFE) == 0xFFFE or 0xFDD0 <= o <= 0xFDEF
    if bad:
        if s is not None and o == p + 1:
            p = o
            continue
        if s is not None:
            r.append("%d-%d" % (s, p))
        s = p = o
r.append("%d-%d" % (s, p))
print(" ".join(r))
]])
    local unsafe = {}
    for a, b in out:gmatch("(%d+)-(%d+)") do
      for cp = tonumber(a), tonumber(b) do unsafe[cp] = true end
    end
    assert.truthy(unsafe[0x202E] and unsafe[0x9B] and unsafe[0xFFFF] and not unsafe[0x41], out:sub(1, 200))
    -- escaped besides them: default-ignorable characters that are not of those categories (fillers,
    -- the combining grapheme joiner, Mongolian selectors, unassigned tags)
    local EXTRA = { { 0x034F, 0x034F }, { 0x115F, 0x1160 }, { 0x17B4, 0x17B5 }, { 0x180B, 0x180F }, { 0x3164, 0x3164 },
                    { 0xFFA0, 0xFFA0 }, { 0xE0000, 0xE0FFF }, { 0x13439, 0x1343F }, { 0x2065, 0x2065 } }
    local function extra(cp)
      for _, r in ipairs(EXTRA) do
        if cp >= r[1] and cp <= r[2] then return true end
      end
      return false
    end
    local wrong = {}
    for cp = 0, 0x10FFFF do
      if cp < 0xD800 or cp > 0xDFFF then
        local s = sanitize.encode(cp)
        local d = sanitize.display(s)
        local escaped = d ~= s
        if escaped then
          assert(d:match("^\\[xuU]%x+$") or d == "\\n" or d == "\\t" or d == "\\r", d)
        end
        if escaped ~= (unsafe[cp] or extra(cp)) and #wrong < 20 then wrong[#wrong + 1] = string.format("U+%04X", cp) end
      end
    end
    assert.same({}, wrong)
  end)

  it("display: one line of printable text, text without such characters as it is", function()
    assert.equal("a\\x1b[31mb\\x9bc\\u202ed\\nE\\u2066f\\u2069 \226\128\148 日本", sanitize.display("a\27[31mb\194\155c\226\128\174d\nE\226\129\166f\226\129\169 \226\128\148 日本"))
    assert.equal("plain ASCII \\ text", sanitize.display("plain ASCII \\ text"))
    assert.equal("\239\191\189x", sanitize.display("\255x"))
    assert.equal("12", sanitize.display(12))
  end)

  it("csv: formulas neutralised (OWASP), also after blanks; raw keeps them; never NUL or stray controls", function()
    for _, case in ipairs {
      { "=1+1", "'=1+1" }, { "+1", "'+1" }, { "-1", "'-1" }, { "@x", "'@x" }, { "\t=1", "'\t=1" }, { "\r=1", "'\r=1" },
      { "  =1", "'  =1" }, { "\n\t@", "'\n\t@" }, { " \n+x", "' \n+x" }, { "a=b", "a=b" }, { " x", " x" }, { "", "" },
      { "x\0y", "x\239\191\189y" }, { "\1\127", "\239\191\189\239\191\189" }, { "tab\tcr\rlf\n", "tab\tcr\rlf\n" },
      { "bad\255", "bad\239\191\189" },
    } do
      assert.equal(case[2], sanitize.csv(case[1]), hex(case[1]))
    end
    assert.equal("=1+1", sanitize.csv("=1+1", true))
    assert.equal("=\239\191\189", sanitize.csv("=\0", true))
  end)

  it("json, xml: Python's json and xml.dom.minidom accept whatever the bytes", function()
    local cases = corpus(2000)
    local json_lines, xml = {}, { "<r>" }
    for i, s in ipairs(cases) do
      json_lines[i] = sanitize.json(s)
      xml[#xml + 1] = '<a v="' .. sanitize.xml(s) .. '">' .. sanitize.xml(s) .. "</a>"
    end
    xml[#xml + 1] = "</r>"
    local out = python([[
import sys, json
n = 0
for line in open(sys.argv[1], "rb").read().decode("utf-8").split("\n"):
    json.loads(line)
    n += 1
print(n)
]], table.concat(json_lines, "\n"))
    assert.equal(tostring(#cases) .. "\n", out)
    out = python([[
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
print(len(d.getElementsByTagName("a")))
]], table.concat(xml, "\n"))
    assert.equal(tostring(#cases) .. "\n", out)
    assert.equal('"x\\u0000"', sanitize.json("x\0"))
    assert.equal("&lt;a href=&quot;x&quot;&gt;&amp;&#39;", sanitize.xml("<a href=\"x\">&'"))
  end)
end)

describe("the writers' numbers and days", function()
  local text = require "usage.base.text"
  local chart = require "usage.cli.report.chart"
  local outside = require "usage.cli.outside"
  local interval = require "usage.base.interval"

  it("never write nan, -nan or a format error for NaN, the infinities, huge or negative values", function()
    local nan, inf = 0 / 0, math.huge
    assert.equal("n/a", text.percent(nan))
    assert.equal("n/a", text.percent(inf))
    assert.equal("n/a", text.percent(1e308)) -- (x100 overflows)
    assert.equal("-50.00%", text.percent(-0.5))
    assert.equal("NaN", text.number(nan))
    assert.equal("inf", text.number(inf))
    assert.equal("0", text.number(-0.0))
    if math.maxinteger then assert.equal("9,223,372,036,854,775,807", text.thousands(math.maxinteger)) end
    for _, v in ipairs { nan, inf, -inf, 1.7e308, -5, 0, 1e-300, 2 ^ 63 } do
      local s = chart.short_number(v)
      assert.is_nil(s:find("nan", 1, true), s)
      assert.truthy(#s < 12, s)
    end
  end)

  it("the report's renderers with hostile counts (also those the command refuses to total): valid, finite, at once", function()
    local aggregate = require "usage.cli.report.aggregate"
    local page = require "usage.cli.report.page"
    local rformats = require "usage.cli.report.formats"
    local days = { "2026-11-01", "2026-11-02", "2026-11-03" }
    local py = nginx.absolute("spec/support/outputs.py")
    local files = {} -- mode -> { { path, what } }
    local function add(mode, text, what)
      local path = os.tmpname()
      nginx.write_file(path, text)
      files[mode] = files[mode] or {}
      table.insert(files[mode], { path, what })
      assert.is_nil(text:find("nan", 1, true), what)
    end
    for _, values in ipairs {
      { 1.7e308, 5 }, { 1e308, 1e308, 1e308 }, { 2 ^ 63, 1 }, { -5, -7 }, { 0, 0 }, { 1e-300, 5e-324 }, { 1.7e308 },
    } do
      local agg = aggregate.new()
      for i, v in ipairs(values) do
        aggregate.add_row(agg, { date = days[(i % 3) + 1], requestCount = v, status429 = v, status500 = 1,
                                 oauthClient = { id = "c" .. i, name = "n" .. i }, templateUri = "api/x" .. i, httpMethod = "GET" })
      end
      local r = aggregate.rank(agg, { top = 10, rank_by = "requests", days = days })
      local d = aggregate.display(r)
      local what = table.concat(values, ", ")
      for _, scale in ipairs { "auto", "linear", "log" } do
        add("svg", chart.svg(r, { scale = scale, pairs = true, days_label = "x" }), what .. " svg " .. scale)
      end
      add("html", page.html(r, d, { title = "t", days_label = "x" }), what .. " html")
      add("json", rformats.json(r, nil), what .. " json")
      add("ndjson", rformats.ndjson(r), what .. " ndjson")
      add("csv", rformats.csv(r), what .. " csv")
      add("terminal", rformats.table(r, d, "t"), what .. " table")
    end
    for mode, list in pairs(files) do
      local args = {}
      for i, f in ipairs(list) do args[i] = sh(f[1]) end
      local p = io.popen("python3 " .. sh(py) .. " " .. mode .. " " .. table.concat(args, " ") .. " 2>&1")
      local i = 0
      for line in p:lines() do
        i = i + 1
        local v = cjson.decode(line)
        assert(v.fail == nil, list[i][2] .. ": " .. tostring(v.fail))
      end
      p:close()
      assert.equal(#list, i, mode)
      for _, f in ipairs(list) do os.remove(f[1]) end
    end
  end)

  it("a long table honours a trapped signal (Ctrl-C) and cuts cells wider than MAX_CELL", function()
    local core = require "usage.core"
    local failure = require "usage.cli.failure"
    local rows = {}
    for i = 1, 10000 do rows[i] = { tostring(i), string.rep("x", 10) } end
    local cut = text.render({ "n", "x" }, { { "1", string.rep("y", 100000) } }, {})
    assert.equal(text.MAX_CELL, text.width(cut[3]:match("  (y+…)$")))
    core.trap_signals { "USR2" }
    assert(nginx.run("kill -USR2 " .. nginx.self_pid()))
    for _ = 1, 100 do
      if core.pending_signal() then break end
      nginx.sleep(0.01)
    end
    local ok, err = pcall(require("usage.cli.text").render, { "n", "x" }, rows, {})
    core.clear_signal()
    assert.is_false(ok)
    assert.is_true(failure.is(err))
    assert.equal("USR2", err.signal)
  end)

  it("outside: a row is inside when its day (Day) or its bucket (Week, Month) overlaps the days", function()
    local first, last = interval.parse_date("2026-11-04"), interval.parse_date("2026-11-10") -- a Wednesday ..
    local days = { first_day = first, last_day = last, label = "4-10 November 2026" }
    local d = outside.new(days)
    for _, case in ipairs {
      { "2026-11-04", true }, { "2026-11-10", true }, { "2026-11-07T00:00:00Z", true }, { "2026-11-07T00:00:00.000Z", true },
      { "2026-11-03", false }, { "2026-11-11", false }, { "2026-02-31", false }, { "garbage", false }, { nil, false },
      { 20261105, false }, { "2026-11-05junk", false },
    } do
      assert.equal(case[2], d:keep(case[1]), tostring(case[1]))
    end
    assert.equal("left out 7 rows dated outside 4-10 November 2026 (UTC): (no date), 2026-02-31, 2026-11-03, " ..
                 "2026-11-05junk, 2026-11-11, garbage", d:note())
    local w = outside.new(days, "Week")
    assert.is_true(w:keep("2026-11-02")) -- the Monday of the first day's week
    assert.is_false(w:keep("2026-10-28")) -- (ends 3 November)
    assert.is_true(w:keep("2026-10-29")) -- a week starting on a Thursday still reaches the 4th
    local m = outside.new(days, "Month")
    assert.is_true(m:keep("2026-11-01"))
    assert.is_false(m:keep("2026-10-01"))
    assert.is_false(m:keep("2026-12-01"))
    assert.is_nil(outside.new(days):note())
  end)
end)
