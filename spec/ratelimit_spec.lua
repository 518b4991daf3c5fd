-- usage.http.ratelimit: no window of `per` seconds (plus its margin) ever holds more than `requests` sends,
-- whatever the arrivals; the waits go through the runtime (here the script's clock).

local script = require "support.script"
local ratelimit = require "usage.http.ratelimit"

-- the sends of a limiter fed `arrivals` (times, non-decreasing): each sends at arrival + its wait
local function sends(limiter, arrivals)
  local out = {}
  for i, t in ipairs(arrivals) do out[i] = t + limiter:reserve(t) end
  return out
end

-- the most sends within any window [t, t + width)
local function densest(times, width)
  local most = 0
  for i = 1, #times do
    local n = 0
    for j = i, #times do
      if times[j] < times[i] + width then n = n + 1 end
    end
    if n > most then most = n end
  end
  return most
end

describe("usage.http.ratelimit", function()
  it("lets the first `requests` go at once, then spaces them by per plus a margin", function()
    local l = ratelimit.new(3, 1)
    assert.same({ 0, 0, 0 }, { l:reserve(10), l:reserve(10), l:reserve(10) })
    local wait = l:reserve(10)
    assert.is_true(wait > 1 and wait <= 1.25, tostring(wait))
    assert.near(1 + l.margin, wait, 1e-9)
  end)

  it("never lets a window of per + margin hold more than requests sends, whatever the arrivals", function()
    local seed = 7
    local function rnd() -- a fixed generator (math.random differs between interpreters)
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    end
    for _, case in ipairs { { 1, 1 }, { 3, 1 }, { 5, 2 }, { 300, 60 } } do
      local requests, per = case[1], case[2]
      local l = ratelimit.new(requests, per)
      local t, arrivals = 0, {}
      for i = 1, requests * 6 do
        t = t + (rnd() < 0.5 and 0 or rnd() * per / requests * 3)
        arrivals[i] = t
      end
      local s = sends(l, arrivals)
      table.sort(s)
      assert.is_true(densest(s, per + l.margin - 1e-9) <= requests, requests .. "/" .. per)
      for i = 2, #s do assert.is_true(s[i] >= s[i - 1]) end
    end
  end)

  it("a send waits only as long as the window needs: after a quiet spell, none", function()
    local l = ratelimit.new(2, 10)
    l:reserve(0)
    l:reserve(0)
    assert.equal(0, l:reserve(100))
  end)

  it("acquire waits through the runtime, and says when the wait was interrupted", function()
    local rt = script.runtime()
    local l = ratelimit.new(1, 5)
    assert.is_true(l:acquire(rt))
    assert.is_true(l:acquire(rt))
    assert.equal(1, #rt.sleeps)
    assert.near(5 + l.margin, rt.sleeps[1], 1e-9)
    rt.interrupt_sleep = { code = "interrupted" }
    local ok, err = l:acquire(rt)
    assert.is_nil(ok)
    assert.equal("interrupted", err.code)
  end)
end)
