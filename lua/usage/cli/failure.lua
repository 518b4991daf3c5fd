-- usage.cli.failure: how a command ends early. A failure is raised as a value and turned into one line
-- on stderr and an exit status by usage.cli:
--   2          a usage error: what the user typed cannot work (with a pointer to --help)
--   1          an API or runtime failure
--   128 + n    a trapped signal: 130 SIGINT, 143 SIGTERM, 129 SIGHUP
-- Library errors (err tables) map here too: "interrupted" to its signal, "validation" to a usage error.

local core = require "usage.core"

local M = {}

M.PROG = "genesys-usage"

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
  raise { status = 2, message = message, hint = M.PROG .. (command and (" " .. command) or "") .. " --help" }
end

-- runtime(message): exit 1
function M.runtime(message)
  raise { status = 1, message = message }
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
  local usage = require "usage"
  if type(err) == "table" and usage.is_error(err) then
    if err.code == "interrupted" then M.signal(err.signal) end
    if err.code == "validation" then M.usage("invalid query: " .. tostring(err.message), command) end
    M.runtime("error: " .. (tostring(err):gsub("^usage: ", "")))
  end
  M.runtime("error: " .. tostring(err))
end

-- line(failure) -> the one line of a failure ("genesys-usage: ...", a hint in parentheses)
function M.line(f)
  local line = M.PROG .. ": " .. tostring(f.message)
  if f.hint then line = line .. " (see " .. f.hint .. ")" end
  return line
end

return M
