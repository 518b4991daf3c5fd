-- usage.cli.term: everything the command line writes to stderr goes through here: error lines, notes,
-- the --verbose log and the progress line. Each line is passed through a redactor that knows the
-- secrets the command line holds (the client secret, its Basic form, a given access token), on top of
-- the library's own redaction, and is made safe for a terminal by usage.base.sanitize.display: valid UTF-8, and
-- the controls (escape sequences, C1 CSI and OSC), BIDI overrides and invisible characters a server may
-- have sent shown escaped (\x1b, \x9b, \u202e), on one line. The progress line is drawn only on a terminal.
-- Silent on success in cron: notes (what a run is doing: jobs started, files written, the days covered)
-- go to a terminal or with --verbose only; warnings (what the output lacks: rows cut at a cap, days a
-- service may not serve) always, unless --quiet; failures always.
--   local t = term.new { quiet =, verbose =, progress = true|false|nil (nil: when stderr is a terminal), now = }
--   t:secret(s)  t:line(text)  t:block(text)  t:note(text)  t:warn(text)  t:draw(text)  t:done()  t:logger()
--   t:tracker(label)
-- The options that choose this (--quiet, --verbose) are the General group every command ends with:
--   term.add(cmd)                        -- an argparse command: -q/--quiet, -v/--verbose, -h/--help
--   term.new { quiet = args.quiet, verbose = args.verbose, ... }

local core = require "usage.core"
local redact = require "usage.base.redact"
local sanitize = require "usage.base.sanitize"
local text = require "usage.base.text"
local NAME = require("usage.cli.program").NAME

local M = {}

local format, concat = string.format, table.concat

local Term = {}
Term.__index = Term

-- Is stderr a terminal? GENESYS_USAGE_PROGRESS=1|0 decides when set; else isatty(2) (the C core's: Lua's io
-- cannot tell a terminal from a pipe).
local function stderr_is_terminal()
  local force = os.getenv("GENESYS_USAGE_PROGRESS")
  if force == "1" or force == "always" then return true end
  if force == "0" or force == "never" then return false end
  return core.isatty(2)
end

-- add(cmd): the General group of an argparse command (the last group of every command's --help).
-- (usage.cli answers -h and --help before parsing: the flag is here to be listed.)
function M.add(cmd)
  cmd:group("General",
    cmd:flag("-q --quiet", "no progress line and no notes on stderr"):overwrite(false),
    cmd:flag("-v --verbose", "one line per HTTP request on stderr (method, path, status, time, correlation id; " ..
                             "never secrets)"):overwrite(false),
    cmd:flag("-h --help", "show this help"):overwrite(false))
end

function M.new(opts)
  opts = opts or {}
  local t = setmetatable({ quiet = opts.quiet, stream = opts.stream or io.stderr, now = opts.now or os.time,
                          redactor = redact.new(), drawn = false, last = -1 }, Term)
  local terminal = stderr_is_terminal()
  if opts.progress == nil then
    t.progress_on = not opts.quiet and terminal
  else
    t.progress_on = opts.progress and not opts.quiet
  end
  t.notes_on = not opts.quiet and (terminal or opts.verbose or false)
  return t
end

-- secret(s): never let s reach stderr
function Term:secret(s)
  self.redactor:add(s)
end

-- redact_with(redactor): from now on, the client's own redactor (it holds the same secrets, and every
-- token the client obtains)
function Term:redact_with(redactor)
  self.redactor = redactor
end

function Term:clean(s)
  return text.one_line(self.redactor:text(tostring(s)))
end

function Term:clear()
  if self.drawn then
    self.stream:write("\r\27[K")
    self.drawn = false
  end
end

-- line(text): one whole line (above the progress line, drawn again below it)
function Term:line(s)
  local was = self.drawn
  self:clear()
  self.stream:write(self:clean(s), "\n")
  if was and self.text then
    self.stream:write(self.text)
    self.drawn = true
  end
  self.stream:flush()
end

-- block(text): text of the tool's own (help, a traceback with GENESYS_USAGE_DEBUG), lines kept, secrets
-- still redacted, each line made safe as a line is (a traceback may quote a server's text)
function Term:block(s)
  self:clear()
  self.stream:write((self.redactor:text(tostring(s)):gsub("[^\n]+", sanitize.display)))
  self.stream:flush()
end

-- note(text): "genesys-usage: text" on a terminal or with --verbose (never with --quiet)
function Term:note(s)
  if self.notes_on then self:line(NAME .. ": " .. s) end
end

-- warn(text): "genesys-usage: text" unless --quiet, terminal or not: what the output lacks
function Term:warn(s)
  if not self.quiet then self:line(NAME .. ": " .. s) end
end

-- draw(text): the progress line, at most ten times a second
function Term:draw(s, force)
  if not self.progress_on then return end
  local now = self.now()
  if not force and now - self.last < 0.1 then return end
  self.last, self.text = now, self:clean(s)
  self.stream:write("\r\27[K", self.text)
  self.stream:flush()
  self.drawn = true
end

-- done(): the work is over: the progress line goes for good
function Term:done()
  self:clear()
  self.progress_on = false
end

-- logger(): the library's logger option for --verbose: one line per HTTP request
function Term:logger()
  return function(level, message, fields)
    fields = fields or {}
    local parts = { NAME .. ":", (level == "info" and "" or (level .. " ")) .. tostring(message or "") }
    if fields.status then parts[#parts + 1] = "-> " .. tostring(fields.status) end
    if fields.code then parts[#parts + 1] = tostring(fields.code) end
    if fields.elapsed then parts[#parts + 1] = format("%.0f ms", fields.elapsed * 1000) end
    if fields.attempt and fields.attempt > 1 then parts[#parts + 1] = "attempt " .. tostring(fields.attempt) end
    if fields.retry_in then parts[#parts + 1] = format("retry in %.1f s", fields.retry_in) end
    if fields.correlation_id then parts[#parts + 1] = "correlation id " .. tostring(fields.correlation_id) end
    self:line(concat(parts, " "))
  end
end

-- tracker(label, on_submitted) -> progress(name): an on_progress callback for the flow called `name`;
-- the progress line sums the flows of one command (the jobs of a split
-- interval). on_submitted(id, name) is called once per job or execution id when it is submitted.
function Term:tracker(label, on_submitted)
  local states, names, seen = {}, {}, {}
  local t0 = self.now()
  local function draw()
    local state, polls, pages, rows = {}, 0, 0, 0
    for _, name in ipairs(names) do
      local s = states[name]
      state[#state + 1] = (#names > 1 and (name .. " ") or "") .. tostring(s.state or "waiting")
      polls, pages, rows = polls + (s.polls or 0), pages + (s.pages or 0), rows + (s.rows or 0)
    end
    self:draw(format("%s: %s  polls %d  pages %d  rows %s  %.1fs", label, concat(state, ", "), polls, pages,
                     text.thousands(rows), self.now() - t0))
  end
  return function(name)
    names[#names + 1] = name
    states[name] = {}
    return function(s)
      states[name] = s
      local ids = s.jobs or { s.id }
      for _, id in ipairs(ids) do
        if on_submitted and not seen[id] then
          seen[id] = true
          on_submitted(id, name)
        end
      end
      draw()
    end
  end
end

return M
