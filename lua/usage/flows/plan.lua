-- usage.flows.plan: the jobs of an aggregates interval. The service runs a job over at most
-- usage.api.limits.MAX_JOB_DAYS days, so a longer interval becomes one job per span of at most that many
-- whole days, cut on week or month boundaries when the body asks for that granularity (no bucket cut in two).
-- Planned from the body as validation reads it: the granularity without case ("month" is "Month"), the
-- interval in any ISO 8601 form it accepts. The first job keeps the body's own start and the last its own
-- end (an instant inside a day stays that instant); the cuts between jobs fall on whole days.
--   plan(flow, body) -> { body } or { body of job 1, body of job 2, ... } (flow.split: a flow that splits)

local interval = require "usage.base.interval"
local models = require "usage.api.models"
local limits = require "usage.api.limits"
local validate = require "usage.api.validate"

return function(flow, body)
  if not flow.split or type(body) ~= "table" or type(body.interval) ~= "string" then return { body } end
  local first, last = interval.covered(body.interval, "jobs")
  if not first or last - first + 1 <= limits.MAX_JOB_DAYS then return { body } end
  local granularity = type(body.granularity) == "string" and validate.canonical(models.enums.granularity,
                                                                                body.granularity) or nil
  local start_text, end_text = body.interval:match("^([^/]+)/([^/]+)$")
  local spans = interval.split(first, last, limits.MAX_JOB_DAYS, granularity)
  local bodies = {}
  for i, span in ipairs(spans) do
    local b = {}
    for k, v in pairs(body) do b[k] = v end
    local a, z = interval.days_of(span.first, span.last).jobs:match("^([^/]+)/([^/]+)$")
    if i == 1 then a = start_text end
    if i == #spans then z = end_text end
    b.interval = a .. "/" .. z
    bodies[i] = b
  end
  return bodies
end
