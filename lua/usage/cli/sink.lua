-- usage.cli.sink: where a command writes. Standard output, or a file written completely or not at all.
-- The text goes to a new file in the target's directory that becomes NAME only when the command succeeds
-- (usage.core.open_output, src/files.c): on Linux a file without a name (O_TMPFILE) linked into place at
-- the end, so that nothing is left behind whatever ends the process, SIGKILL included; elsewhere a
-- NAME.tmp-<16 random hex digits> created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW: a symlink or a file
-- planted in advance in a shared directory is never followed nor overwritten), renamed over NAME at the
-- end and removed when the command fails or is interrupted. NAME keeps the mode of the file it replaces
-- (a 0600 file stays 0600); a new one gets 0666 less the umask. A device, a FIFO or a socket
-- (/dev/stdout, a named pipe) is written directly: renaming over it would replace it.
-- Every open sink is known here, so that a signal or a failure anywhere discards every unfinished file.
--   local s, err = sink.open(path)      -- nil or "-": standard output
--   s.fh:write(...)                      -- raises a failure (exit 1) when the write fails (disk full)
--   s:commit() | s:abort()               -- commit -> true | nil, message
--   sink.abort_all()

local core = require "usage.core"
local failure = require "usage.cli.failure"

local M = {}

local Sink = {}
Sink.__index = Sink

local open_sinks = {}

-- a handle whose failed writes end the command (on_error(message) raises)
local function checked(fh, name, on_error)
  return {
    write = function(_, ...)
      local ok, why = fh:write(...)
      if not ok then on_error("cannot write " .. name .. ": " .. tostring(why)) end
      return true
    end,
    flush = function() return fh:flush() end,
  }
end

-- a failed open: a trapped signal (Ctrl-C while a FIFO waits for its reader) ends the command with its
-- exit status; anything else is the message
local function open_failed(path, why)
  failure.check()
  return nil, "cannot write " .. path .. ": " .. tostring(why)
end

-- open(path, on_error) -> sink | nil, message. on_error(message) is called (and must raise) when a
-- write fails later.
function M.open(path, on_error)
  on_error = on_error or error
  if not path or path == "-" then
    return setmetatable({ fh = checked(io.stdout, "standard output", on_error), raw = io.stdout,
                          name = "standard output" }, Sink)
  end
  if path == "" then return nil, "cannot write a file without a name (--output \"\")" end
  local info = core.file_info(path) -- (a symlink: what it points at)
  if info and info.type == "directory" then return nil, "cannot write " .. path .. ": it is a directory" end
  -- /dev and /proc hold devices and descriptors (/dev/stdout is a regular file when stdout is one: it
  -- must be written through, never replaced)
  if (info and info.type ~= "file") or path:match("^/dev/") or path:match("^/proc/") then
    local fh, why = io.open(path, "wb")
    if not fh then return open_failed(path, why) end
    return setmetatable({ fh = checked(fh, path, on_error), raw = fh, name = path, path = path, direct = true }, Sink)
  end
  local file, why = core.open_output(path)
  if not file then
    if why == "no such directory" then why = "no directory " .. (path:match("^(.*)/[^/]*$") or ".") end
    return open_failed(path, why)
  end
  local s = setmetatable({ fh = checked(file, path, on_error), raw = file, name = path, path = path, file = file }, Sink)
  open_sinks[s] = true
  return s
end

-- commit() -> true | nil, message: the file is complete (in place) or nothing is left
function Sink:commit()
  open_sinks[self] = nil
  if not self.file then
    local ok, why = self.raw:flush()
    if ok and self.direct then ok, why = self.raw:close() end
    if not ok then return nil, "cannot write " .. self.name .. ": " .. tostring(why) end
    return true
  end
  local file = self.file
  self.file = nil
  local ok, why = file:commit()
  if not ok then return nil, "cannot write " .. self.path .. ": " .. tostring(why) end
  return true
end

function Sink:abort()
  open_sinks[self] = nil
  if self.direct then pcall(self.raw.close, self.raw) end
  if self.file then
    self.file:abort()
    self.file = nil
  end
end

-- write_file(path, text, on_error) -> true | nil, message: a whole file at once, atomically
function M.write_file(path, text, on_error)
  local s, err = M.open(path, on_error)
  if not s then return nil, err end
  local ok, why = pcall(s.fh.write, s.fh, text)
  if not ok then
    s:abort()
    error(why, 0)
  end
  return s:commit()
end

-- abort_all(): discard the file of every sink not yet committed (a failure, a signal)
function M.abort_all()
  for s in pairs(open_sinks) do s:abort() end
end

return M
