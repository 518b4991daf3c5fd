-- usage.cli.failure: how a command ends early. A failure is raised as a value and turned into one line
-- on stderr and an exit status by usage.cli (statuses a monitor can route; 75 and 77 are sysexits.h's):
--   2          a usage error: what the user typed cannot work (with a pointer to --help)
--   75         EX_TEMPFAIL, a passing failure: try again later. The network (no connection, DNS, timeouts,
--              a broken transfer), HTTP 408, 429 and 5xx once the retries are spent, a query still running
--              at --poll-timeout, a login the token endpoint throttled
--   77         EX_NOPERM, a lasting failure of the credentials or permissions: HTTP 401 and 403 (the API's
--              or the login's), a login refused (invalid_client, unauthorized_client, invalid_grant, ...)
--   1          anything else (an answer of the wrong shape, a failed query, a TLS failure, results too
--              big for the service (max.response.size.reached: a smaller interval is needed, not time),
--              a total that cannot be given exactly, a file that cannot be written, ...)
--   128 + n    a trapped signal: 130 SIGINT, 143 SIGTERM, 129 SIGHUP
-- Library errors (err tables) map here too (M.status_of): "interrupted" to its signal, "validation" to a
-- usage error.

local core = require "usage.core"
local errors = require "usage.base.errors"
local NAME = require("usage.cli.program").NAME

local M = {}

local Failure = {}
Failure.__index = Failure

function M.is(v)
  return getmetatable(v) == Failure
end

local function raise(fields)
  error(setmetatable(fields, Failure), 0)
end

-- usage(message [, command]): exit 2
function M.usage(message, command)
  raise { status = 2, message = message, hint = NAME .. (command and (" " .. command) or "") .. " --help" }
end

local EX_TEMPFAIL, EX_NOPERM = 75, 77

-- runtime(message [, status]): exit 1 (or status)
function M.runtime(message, status)
  raise { status = status or 1, message = message }
end

-- the transport failures of the network (usage.core's codes) that a later run may not meet
local PASSING_TRANSPORT = { timeout = true, connect = true, dns = true, connection = true, truncated = true,
                            transport = true }
-- the codes of a login the token endpoint refused for good (RFC 6749, 5.2)
local REFUSED_LOGIN = { invalid_client = true, unauthorized_client = true, invalid_grant = true,
                        unsupported_grant_type = true, invalid_scope = true, access_denied = true }

-- status_of(err) -> the exit status of a library error: 77, 75 or 1 (see the top of this file)
function M.status_of(err)
  if type(err) ~= "table" then return 1 end
  local status, code = err.status, err.code
  if status == 401 or status == 403 then return EX_NOPERM end
  if type(code) == "string" and REFUSED_LOGIN[code] then return EX_NOPERM end
  if status == 400 and code == "invalid_request" and type(err.message) == "string"
     and err.message:lower():find("rate limit", 1, true) then
    return EX_TEMPFAIL -- (the token endpoint throttles with 400)
  end
  if code == "max.response.size.reached" then return 1 end -- (a smaller interval is needed, not time)
  if status == 408 or status == 429 or (type(status) == "number" and status >= 500 and status <= 599) then
    return EX_TEMPFAIL
  end
  if status == nil and PASSING_TRANSPORT[code] then return EX_TEMPFAIL end
  if code == "poll_timeout" then return EX_TEMPFAIL end
  return 1
end

-- signal([name]): the trapped signal that arrived (name, e.g. "INT"): exit 128 + its number
function M.signal(name)
  local pending, number = core.pending_signal()
  name = pending or name or "INT"
  raise { status = 128 + (number or 2), message = "interrupted (SIG" .. name .. ")", signal = name }
end

-- check(): a trapped signal arrived while Lua code ran (writing, folding): stop now
function M.check()
  if core.pending_signal() then M.signal() end
end

-- from_error(err, command): raise the failure of a library error (or anything else a flow returned)
function M.from_error(err, command)
  if errors.is_error(err) then
    if err.code == "interrupted" then M.signal(err.signal) end
    if err.code == "validation" then M.usage("invalid query: " .. tostring(err.message), command) end
    M.runtime("error: " .. (tostring(err):gsub("^usage: ", "")), M.status_of(err))
  end
  M.runtime("error: " .. tostring(err))
end

-- of_org(err, org, command, several [, more]): raise the failure of one org's error (from_error's, when the
-- run has one org); with several orgs the line names the org, and how many more failed (more)
function M.of_org(err, org, command, several, more)
  if type(err) == "table" and err.code == "interrupted" then M.signal(err.signal) end
  if not several then M.from_error(err, command) end
  local tail = (more or 0) > 0 and string.format(" (and %d more org%s failed)", more, more > 1 and "s" or "") or ""
  M.runtime(string.format("org %s: error: %s%s", tostring(org), (tostring(err):gsub("^usage: ", "")), tail),
            M.status_of(err))
end

-- line(failure) -> the one line of a failure ("genesys-usage: ...", a hint in parentheses)
function M.line(f)
  local line = NAME .. ": " .. tostring(f.message)
  if f.hint then line = line .. " (see " .. f.hint .. ")" end
  return line
end

return M
