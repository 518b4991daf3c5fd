-- usage.cli.run: running a call (usage.cli.call) against the API with a client (usage.cli.connection):
-- the progress line, each job's id as a note when it starts (with the command that reads it again), the
-- pages, and every library error turned into a failure (a trapped signal into its exit status). The ids
-- are kept in session.jobs, so that a run that fails or is interrupted names them on its error line.
--   local pager = run.start(session, client, call [, again])   -- pager (paged flows) | result (the others)
--   run.each_page(session, pager, fn, name)                    -- fn(rows) for every page
-- session: { term, now, jobs } (usage.cli); again: the command line that reads a job of the call again,
-- "genesys-usage aggregates" (its --job ID is added)

local flows = require "usage.flows"
local limits = require "usage.api.limits"
local failure = require "usage.cli.failure"

local M = {}

local format = string.format
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)

-- start(session, client, call [, again]) -> pager | result (result flows run to the end here)
function M.start(s, client, call, again)
  local flow, term = call.flow, s.term
  local bodies = call.body and flows.plan(flow, call.body) or {}
  local split = #bodies > 1 and #bodies or nil
  if split then
    term:note(format("%s: %d days are read as %d jobs of at most %d days (the API's limit), run at once", call.name,
                     call.days.count, split, limits.MAX_JOB_DAYS))
  end
  local jobs = flow.kind == "next_uri" -- (the other flows' executions are not read again)
  local track = term:tracker(call.name, function(id)
    if not jobs then return end
    s.jobs[#s.jobs + 1] = { id = id, again = again and (again .. " --job " .. id) or nil }
    if call.opts.job then
      term:note("reading job " .. id)
    elseif again and split then
      term:note(format("job %s started (one of %d: %s --job %s reads that job's days only)", id, split, again, id))
    elseif again then
      term:note(format("job %s started (read it again with: %s --job %s)", id, again, id))
    else
      term:note(format("job %s started (%s)", id, call.name))
    end
  end)
  local opts = {}
  for k, v in pairs(call.opts or {}) do opts[k] = v end
  opts.on_progress = track(call.name)
  local argv, n = {}, #flow.params
  for i, p in ipairs(flow.params) do argv[i] = call.params[p] end
  if flow.body then
    n = n + 1
    argv[n] = call.body -- nil for a job read again with opts.job
  end
  argv[n + 1] = opts
  if flow.pager then return client[flow.name](client, unpack(argv, 1, n + 1)) end
  local result, err = client[flow.name](client, unpack(argv, 1, n + 1))
  if not result then
    term:done()
    failure.from_error(err, call.name)
  end
  return result
end

-- each_page(session, pager, fn, name): fn(rows) for every page; a failure ends the command `name`
function M.each_page(s, pager, fn, name)
  while true do
    local page, err = pager:next_page()
    if page == nil then
      s.term:done()
      failure.from_error(err, name)
    end
    if page == false then return end
    failure.check()
    if #page > 0 then fn(page) end
  end
end

return M
