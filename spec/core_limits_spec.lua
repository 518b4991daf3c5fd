-- Numbers into the C core: a double converted to a C integer type outside that type's range is undefined
-- behaviour (1e12 seconds as milliseconds in a 32-bit long), so every numeric input is range-checked
-- before a conversion, in one helper (usage_to_bounded, src/http.h). Checked here through the core's
-- functions with huge, negative, NaN and infinite timeouts, sizes and waits, with the values libcurl
-- receives read from the log of build/test/curlfault.so; the 32-bit-style check runs a core built with a
-- 32-bit long and size_t (build/test/narrow-lua5.4). And the encoders, whose output is written in slices
-- of a luaL_Buffer: every length, against plain Lua.

local core = require "usage.core"
local nginx = require "support.nginx"

local sh_quote, read_file = nginx.sh_quote, nginx.read_file
local REPO = nginx.absolute(".")
local INTERP = (type(jit) == "table") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local SHIM = REPO .. "/build/test/curlfault.so"
local NARROW = REPO .. "/build/test/narrow-lua5.4"

-- the milliseconds libcurl is given for a timeout and a connect timeout, by a child interpreter
-- (interp and cpath: the running Lua and its core, unless given)
local function timeouts_given(timeout, connect_timeout, interp, cpath)
  local log = os.tmpname()
  local script = "local core = require 'usage.core'; local s = core.session {}; " ..
                 "s:request { url = 'http://127.0.0.1:1/', timeout = " .. timeout .. ", connect_timeout = " ..
                 connect_timeout .. " }"
  local cmd = "env LD_PRELOAD=" .. sh_quote(SHIM) .. " CURLFAULT_LOG=" .. sh_quote(log) ..
              " LUA_CPATH=" .. sh_quote((cpath or (REPO .. "/build/" .. INTERP)) .. "/?.so;;") .. " " ..
              (interp or INTERP) .. " -e " .. sh_quote(script) .. " 2>&1"
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  local text = read_file(log) or ""
  os.remove(log)
  assert.equal("", out)
  return text:match("setopt CURLOPT_TIMEOUT_MS (%d+)"), text:match("setopt CURLOPT_CONNECTTIMEOUT_MS (%d+)")
end

describe("numbers into the C core", function()
  it("gives libcurl the timeouts in milliseconds, a positive one never 0 (no timeout at all)", function()
    assert.same({ "2500", "1" }, { timeouts_given(2.5, 0.0004) })
    assert.same({ "1", "1" }, { timeouts_given(1e-300, 0.0009) })
    assert.same({ "1000000000000000", "3000" }, { timeouts_given(1e12, 3) }) -- the largest allowed
  end)

  it("saturates where the C type is narrower, as a 32-bit long and size_t are", function()
    assert.is_truthy(read_file(NARROW .. "/usage/core.so"), "missing " .. NARROW .. ": run make build")
    -- 2^31 - 1 ms is 24.8 days: the largest timeout a 32-bit long holds, no timeout in practice
    assert.same({ "2147483647", "2147483647" }, { timeouts_given(1e12, 3e6, "lua5.4", NARROW) })
    assert.same({ "2000000000", "2147483647" }, { timeouts_given(2e6, 2147483.648, "lua5.4", NARROW) })
    assert.same({ "2147483647", "1" }, { timeouts_given(2147483.647, 1e-9, "lua5.4", NARROW) })
  end)

  it("refuses timeouts and sizes that are negative, NaN, infinite or too big, naming the option", function()
    local s = core.session {}
    local bad = { -1, -1e-9, 0 / 0, math.huge, -math.huge, 1e12 + 1, 1e300 }
    for _, key in ipairs { "timeout", "connect_timeout", "max_size" } do
      for _, v in ipairs(bad) do
        local ok, err = pcall(s.request, s, { url = "http://127.0.0.1:1/", [key] = v })
        assert.is_false(ok, key .. " = " .. tostring(v))
        assert.matches("option '" .. key .. "' is out of range", tostring(err), 1, true)
      end
      local ok, err = pcall(s.request, s, { url = "http://127.0.0.1:1/", [key] = "5" })
      assert.is_false(ok)
      assert.matches("option '" .. key .. "' must be a number", tostring(err), 1, true)
    end
    for _, v in ipairs { 0, 0.5 } do -- a size cap of less than a byte
      assert.is_false(pcall(s.request, s, { url = "http://127.0.0.1:1/", max_size = v }), tostring(v))
    end
    -- the largest values are taken (and the transfer fails on the closed port, not on a number)
    local status, code = s:request { url = "http://127.0.0.1:1/", timeout = 1e12, connect_timeout = 1e12,
                                     max_size = 1e12 }
    assert.is_nil(status)
    assert.equal("connect", code)
    s:close()
  end)

  it("waits no time for a NaN or negative wait, and no more than asked", function()
    local m = core.multi()
    for _, w in ipairs { 0 / 0, -1, -math.huge, 0, 1e-300 } do
      local t0 = core.now()
      local done, running = m:perform(w)
      assert.same({}, done)
      assert.equal(0, running)
      assert.is_true(core.now() - t0 < 1, tostring(w))
    end
    local t0 = core.now()
    m:perform(0.05)
    assert.is_true(core.now() - t0 >= 0.04)
    m:close()
    for _, w in ipairs { 0 / 0, -1, -math.huge, 0 } do
      assert.equal(0, core.sleep(w), tostring(w))
    end
  end)
end)

-- plain Lua references
local function pct_ref(s)
  return (s:gsub("[^A-Za-z0-9%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64_ref(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for k = 3, 0, -1 do
      local idx = math.floor(v / 64 ^ k) % 64
      q[#q + 1] = B64:sub(idx + 1, idx + 1)
    end
    if not b then q[3], q[4] = "=", "=" elseif not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

-- n bytes cycling through all 256 values, starting at `from`
local function bytes(n, from)
  local t = {}
  for i = 1, n do t[i] = string.char((from + i) % 256) end
  return table.concat(t)
end

describe("the encoders", function()
  -- every length up to 800, the slice sizes (85, 192, 256, 576, 768 input bytes) and their multiples
  -- around, and a long one: each slice fits what the buffer gives (src/codec.c)
  local lengths = {}
  for n = 0, 800 do lengths[#lengths + 1] = n end
  for _, base in ipairs { 1024, 1536, 2304, 3072, 65536 } do
    for d = -3, 3 do lengths[#lengths + 1] = base + d end
  end

  it("percent-encode every length as plain Lua does", function()
    for _, n in ipairs(lengths) do
      local s = bytes(n, n)
      local got = core.percent_encode(s)
      if got ~= pct_ref(s) then assert.equal(pct_ref(s), got, "length " .. n) end
    end
    local all = string.rep("\255", 100000) -- every byte escaped: three times the input
    assert.equal(300000, #core.percent_encode(all))
  end)

  it("base64-encode every length as plain Lua does", function()
    for _, n in ipairs(lengths) do
      local s = bytes(n, 3 * n)
      local got = core.base64(s)
      if got ~= b64_ref(s) then assert.equal(b64_ref(s), got, "length " .. n) end
    end
    assert.equal(133336, #core.base64(string.rep("\0", 100001)))
  end)
end)
