-- usage.flows.pager: streams the rows of a paged result, one page in memory at a time (one per job while the
-- jobs of a split interval start).
--   for row in pager:rows() do ... end   -- raises the err table on failure
--   for page in pager:pages() do ... end -- page = array of rows (empty pages are skipped)
--   local rows, err = pager:all()        -- never raises for anything a server sent
-- Fields a caller may read: state ("new", "polling", "paging", "done", "failed"), id (execution or job id
-- once submitted), jobs (every job id of a split interval), page_count, row_count, poll_count, page_size
-- (the page size in use: smaller than asked when the service said a page was too big), truncated (the
-- API's row cap was reached), err.
-- A pager is made from produce(pager) -> rows, more | nil, err; opts.redact (the client's redactor) makes
-- what it hands out (rows, errors, the state given to on_progress) redacted copies.

local M = {}

local Pager = {}
Pager.__index = Pager

function M.new(produce, opts)
  return setmetatable({
    produce = produce,
    on_progress = opts and opts.on_progress,
    state = "new",
    page_count = 0,
    row_count = 0,
    poll_count = 0,
    jobs = {},
    truncated = false,
    cap = opts and opts.cap,
    page_size = opts and opts.page_size,
    redact = opts and opts.redact,
    done = false,
  }, Pager)
end

function Pager:__tostring()
  return string.format("usage.pager (%s, %d pages, %d rows)", self.state, self.page_count, self.row_count)
end

-- tell on_progress where the pager is; state: the query status being polled, else the pager's state
function Pager:progress(status)
  if self.on_progress then
    if status and self.redact then status = self.redact:text(status) end -- (a server's queryStatus)
    self.on_progress {
      state = status or self.state,
      polls = self.poll_count,
      pages = self.page_count,
      rows = self.row_count,
      elapsed = self.elapsed or 0,
      id = self.id,
      jobs = self.jobs,
      page_size = self.page_size,
    }
  end
end

-- next_page() -> rows | false (no more pages) | nil, err
function Pager:next_page()
  if self.err then return nil, self.err end
  if self.done then return false end
  local rows, more = self.produce(self)
  local redact = self.redact
  if not rows then
    if redact then more = redact:copy(more) end
    self.err, self.state, self.done = more, "failed", true
    return nil, more
  end
  if redact then rows = redact:out(rows) end
  self.state = "paging"
  self.page_count = self.page_count + 1
  if self.cap and self.row_count + #rows >= self.cap then
    for i = #rows, self.cap - self.row_count + 1, -1 do rows[i] = nil end
    self.truncated = true
    more = false
  end
  self.row_count = self.row_count + #rows
  if not more then
    self.done = true
    self.state = "done"
  end
  self:progress()
  return rows
end

function Pager:pages()
  return function()
    while true do
      local page, err = self:next_page()
      if page == nil then error(err, 0) end
      if page == false then return nil end
      if #page > 0 then return page end
    end
  end
end

function Pager:rows()
  local page, i = nil, 0
  return function()
    while true do
      if page then
        i = i + 1
        local row = page[i]
        if row ~= nil then return row end
        page = nil -- let it go before fetching the next one
      end
      local p, err = self:next_page()
      if p == nil then error(err, 0) end
      if p == false then return nil end
      page, i = p, 0
    end
  end
end

function Pager:all()
  local out = {}
  while true do
    local page, err = self:next_page()
    if page == nil then return nil, err end
    if page == false then return out end
    for _, row in ipairs(page) do out[#out + 1] = row end
  end
end

return M
