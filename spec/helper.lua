-- Shared by the specs: a fake cloud per spec file, clients pointed at it, request-log helpers.
local fakecloud = require "fakecloud"
local usage = require "usage"
local core = require "usage.core"

local H = {}

H.clients = fakecloud.clients
-- A UTC date relative to today, "yyyy-MM-dd": H.day(-10) is ten days ago. Aggregates jobs may not start
-- more than a year ago (the fake checks that by the real clock), so their intervals are recent.
function H.day(offset)
  return os.date("!%Y-%m-%d", os.time() + offset * 86400)
end

H.I = "2025-01-01T00:00:00Z/2025-01-08T00:00:00Z"   -- a week of the seeded data (old generation: [start, end))
H.DAYS = H.day(-40) .. "/" .. H.day(-10)            -- 31 recent days, for the new generation (both ends inclusive)
H.ACME = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac"      -- "Acme Reporting"
H.HEAVY = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd"     -- "Bulk Export Service": active every day, in 2 organizations;
                                                    -- config count_offset puts counts above 2^31 / 2^53 on it

function H.start(opts)
  return fakecloud.start(opts or {})
end

-- A client of the fake with fast polls and short retry bounds; opts override.
function H.client(fake, opts)
  local o = {
    base_url = fake.base_url,
    client_id = H.clients.demo.id,
    client_secret = H.clients.demo.secret,
    poll = { interval = 0.02, max_interval = 0.05, timeout = 10 },
    retry = { max_retries = 5, max_retry_time = 20, max_retry_after = 10 },
  }
  for k, v in pairs(opts or {}) do
    if v == H.NONE then o[k] = nil else o[k] = v end
  end
  return usage.new(o)
end
H.NONE = {} -- H.client(fake, { client_id = H.NONE }) drops a default

-- Entries of the fake's request log whose path matches `pattern` (and method, if given).
function H.requests(fake, pattern, method)
  local out = {}
  for _, e in ipairs(fake:log()) do
    if (not pattern or e.path:find(pattern)) and (not method or e.method == method) then out[#out + 1] = e end
  end
  return out
end

function H.logins(fake)
  return #H.requests(fake, "^/oauth/token$", "POST")
end

-- A logger that records every event.
function H.recorder()
  local events = {}
  return events, function(level, message, fields)
    events[#events + 1] = { level = level, message = message, fields = fields }
  end
end

function H.timed(fn)
  local t0 = core.now()
  local a, b, c = fn()
  return core.now() - t0, a, b, c
end

H.is_integer = function(v)
  if math.type then return math.type(v) == "integer" end
  return type(v) == "number" and v == math.floor(v)
end

return H
