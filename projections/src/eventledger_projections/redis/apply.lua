-- ARGV: base, version, mode ('live' | 'build'), n, n x (partition field, next offset, position or ''),
--       then operations of 8 fields (see operations.py). Answers the number of events that changed a row.
local base, version, mode = ARGV[1], ARGV[2], ARGV[3]
local ERASED = '[erased]' -- eventledger_events.personal.ERASED
local p = base .. ':v' .. version .. ':'
if mode == 'live' then
  if redis.call('GET', base .. ':live') ~= version then return -1 end
  local handover = redis.call('HGET', p .. 'meta', 'handover')
  if handover then
    local deadline = tonumber(string.match(handover, '|(%d+)$'))
    local now = redis.call('TIME')
    if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) < deadline then
      return redis.error_reply('ELBUSY version ' .. version .. ' is handing over to a rebuilt version')
    end
  end
elseif redis.call('HGET', p .. 'meta', 'state') ~= 'building' then
  return redis.error_reply('ELSTATE version ' .. version .. ' is not being built')
end
local progress = tonumber(ARGV[4])
local first_op = 5 + 3 * progress

local function fmt(n) return string.format('%d', n) end
local function add(t, k, d) t[k] = (t[k] or 0) + d end

-- Phase 1: fold every operation over the stored rows, in memory. Nothing is written before the whole batch
-- is known to apply.
local accounts, account_order, transfers, transfer_order = {}, {}, {}, {}
local counts, volume, posted, top = {}, {}, {}, {}
local applied = 0

local function load_account(id)
  local a = accounts[id]
  if a then return a end
  local row = redis.call('HMGET', p .. 'account:' .. id,
    'version', 'status', 'currency', 'balance', 'held', 'overdraft_limit', 'volume')
  a = {version = tonumber(row[1]) or 0, status = row[2], currency = row[3], balance = tonumber(row[4]) or 0,
       held = tonumber(row[5]) or 0, overdraft = tonumber(row[6]) or 0, volume = tonumber(row[7]) or 0}
  accounts[id] = a
  table.insert(account_order, id)
  return a
end

for i = first_op, #ARGV, 8 do
  local kind, id, v, at = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 4]
  local where = ' (stream version ' .. ARGV[i + 2] .. ', position ' .. ARGV[i + 3] .. ')'
  if kind == 'T' then
    local t = transfers[id]
    if t == nil then
      t = {version = tonumber(redis.call('GET', p .. 'transfer:' .. id) or '0')}
      transfers[id] = t
      table.insert(transfer_order, id)
    end
    if v > t.version then
      t.version, t.changed = v, true
      applied = applied + 1
      local amount = tonumber(ARGV[i + 6])
      if ARGV[i + 5] == 'posted' and amount > 0 then
        add(volume, ARGV[i + 7], amount)
        add(posted, ARGV[i + 7], 1)
      end
    end
  else
    local a = load_account(id)
    if v > a.version then
      if kind == 'O' then
        a.status, a.currency, a.balance, a.held, a.volume = 'open', ARGV[i + 5], 0, 0, 0
        a.overdraft, a.holder, a.opened_at = tonumber(ARGV[i + 7]), ARGV[i + 6], at
        add(counts, 'open', 1)
      elseif not a.status then
        return redis.error_reply('ELPOISON account ' .. id .. ' was never opened' .. where)
      elseif kind == 'E' then
        a.erased = true
      elseif kind == 'S' then
        add(counts, a.status, -1)
        a.status = ARGV[i + 5]
        add(counts, a.status, 1)
      elseif kind == 'M' or kind == 'H' then
        local currency = ARGV[i + (kind == 'M' and 7 or 6)]
        if currency ~= a.currency then
          return redis.error_reply('ELPOISON ' .. currency .. ' movement on ' .. a.currency .. ' account ' .. id
            .. where)
        end
        if kind == 'M' then
          local amount = tonumber(ARGV[i + 6])
          a.balance, a.volume = tonumber(ARGV[i + 5]), a.volume + amount
          top[currency] = top[currency] or {}
          add(top[currency], id, amount)
        else
          a.held = a.held + tonumber(ARGV[i + 5])
          if a.held < 0 then
            return redis.error_reply('ELPOISON a hold release below zero on account ' .. id .. where)
          end
        end
      else
        return redis.error_reply('ELPOISON unknown operation ' .. tostring(kind) .. where)
      end
      a.version, a.position, a.updated_at, a.changed = v, ARGV[i + 3], at, true
      applied = applied + 1
    end
  end
end

-- Phase 2: write each changed row once, then the figures, then the progress.
for _, id in ipairs(account_order) do
  local a = accounts[id]
  if a.changed then
    local key = p .. 'account:' .. id
    redis.call('HSET', key, 'status', a.status, 'currency', a.currency, 'balance', fmt(a.balance),
      'held', fmt(a.held), 'overdraft_limit', fmt(a.overdraft), 'available', fmt(a.balance + a.overdraft - a.held),
      'volume', fmt(a.volume), 'version', fmt(a.version), 'position', a.position, 'updated_at', a.updated_at)
    if a.holder then redis.call('HSET', key, 'holder_name', a.holder, 'opened_at', a.opened_at) end
    if a.erased then
      redis.call('HSET', key, 'holder_name', ERASED)
      redis.call('SET', base .. ':aof-rewrite-due', '1') -- the append-only file still holds the name (erasure.py)
    end
  end
end
for _, id in ipairs(transfer_order) do
  local t = transfers[id]
  if t.changed then redis.call('SET', p .. 'transfer:' .. id, fmt(t.version)) end
end
for status, delta in pairs(counts) do
  if delta ~= 0 then redis.call('HINCRBY', p .. 'accounts', status, delta) end
end
for currency, amount in pairs(volume) do redis.call('HINCRBY', p .. 'volume', currency, amount) end
for currency, n in pairs(posted) do redis.call('HINCRBY', p .. 'posted', currency, n) end
for currency, by_account in pairs(top) do
  for id, amount in pairs(by_account) do redis.call('ZINCRBY', p .. 'top:' .. currency, amount, id) end
end

if progress > 0 then
  for j = 5, 4 + 3 * progress, 3 do
    local field, next_offset, position = ARGV[j], tonumber(ARGV[j + 1]), ARGV[j + 2]
    if next_offset > tonumber(redis.call('HGET', p .. 'offsets', field) or '0') then
      redis.call('HSET', p .. 'offsets', field, ARGV[j + 1])
    end
    if position ~= '' then
      if tonumber(position) > tonumber(redis.call('HGET', p .. 'last', field) or '0') then
        redis.call('HSET', p .. 'last', field, position)
      end
      local mark = redis.call('HGET', p .. 'marks', field)
      if mark and tonumber(position) > tonumber(mark) then redis.call('HSET', p .. 'marks', field, position) end
    end
  end
  recompute_reflected(p)
end
return applied
