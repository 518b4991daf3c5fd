-- usage.http.ratelimit: a client-side budget of `requests` per `per` seconds. Every request (retries and
-- polls included) takes a slot first; slots are spaced so that no window of `per` seconds, plus a
-- small margin for network jitter, ever holds more than `requests` sends, whatever the number of
-- coroutines sharing the client. The server's limit is then never exceeded and no 429 comes back.

local M = {}
M.__index = M

function M.new(requests, per)
  local self = setmetatable({}, M)
  self.requests = requests
  self.per = per
  self.margin = math.min(0.25, 0.02 * per + 0.05)
  self.times = {} -- ring of the last `requests` slot times (monotonic seconds, non-decreasing)
  self.next = 1
  return self
end

-- Reserve the next slot; returns how long the caller must wait before sending.
function M:reserve(now)
  local times, i = self.times, self.next
  local slot = now
  local oldest = times[i] -- the slot `requests` sends ago
  if oldest and oldest + self.per + self.margin > slot then slot = oldest + self.per + self.margin end
  times[i] = slot
  self.next = i % self.requests + 1
  return slot - now
end

-- acquire(rt) -> true | nil, err: wait (through the runtime: block, yield to gather, or ngx.sleep) for a
-- slot; err when the wait was interrupted
function M:acquire(rt)
  local wait = self:reserve(rt.now())
  if wait > 0 then return rt.sleep(wait) end
  return true
end

return M
