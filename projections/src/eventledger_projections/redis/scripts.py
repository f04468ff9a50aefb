"""The Lua scripts that are the only writers of the read model (EVALSHA, loaded again after a Redis restart).

Why scripts: a script runs atomically, so the rows, the per-partition offsets and the reflected-position marks
move together (the checkpoint "in the same transaction" of docs/adr/0007), and the version guard is read and
written without a window in between. Redis does not roll a script back when it fails half-way, so ``APPLY``
works in two phases: it folds the whole batch in memory first and refuses (``ELPOISON``) before its first write.

Error replies: ``ELPOISON`` (the batch holds an event the read model cannot take: a fault of the event),
``ELBUSY`` (a rebuild is taking over from this version for a moment: retry), ``ELSTATE`` and ``ELSWITCH``
(a rebuild's own preconditions failed).

Conventions: scripts take no KEYS (they build names under the base they are given: one Redis instance, not a
Cluster); integers travel as decimal strings; a script answering ``-1`` means "the live pointer no longer names
the version you wrote to" (a rebuild switched, or Redis lost its data).
"""

from __future__ import annotations

from typing import Final

MOVED: Final = -1

_RECOMPUTE_REFLECTED = """
local function recompute_reflected(p)
  local floor = tonumber(redis.call('HGET', p .. 'meta', 'floor') or '0')
  local low = nil
  for _, mark in ipairs(redis.call('HVALS', p .. 'marks')) do
    local n = tonumber(mark)
    if low == nil or n < low then low = n end
  end
  local reflected = floor
  if low ~= nil and low > reflected then reflected = low end
  redis.call('HSET', p .. 'meta', 'reflected_position', string.format('%d', reflected))
  return reflected
end
"""

APPLY: Final = (
    _RECOMPUTE_REFLECTED
    + """
-- ARGV: base, version, mode ('live' | 'build'), n, n x (partition field, next offset, position or ''),
--       then operations of 8 fields (see operations.py). Answers the number of events that changed a row.
local base, version, mode = ARGV[1], ARGV[2], ARGV[3]
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
"""
)

MARK_CAUGHT_UP: Final = (
    _RECOMPUTE_REFLECTED
    + """
-- ARGV: base, version, relay position, then (partition field, high watermark) pairs. Answers the reflected
-- position, or -1 when the version is no longer live.
local base, version = ARGV[1], ARGV[2]
if redis.call('GET', base .. ':live') ~= version then return -1 end
local p = base .. ':v' .. version .. ':'
local relay = tonumber(ARGV[3])
for j = 4, #ARGV, 2 do
  local field, high = ARGV[j], tonumber(ARGV[j + 1])
  local next_offset = tonumber(redis.call('HGET', p .. 'offsets', field) or '0')
  local mark = redis.call('HGET', p .. 'marks', field)
  if next_offset >= high then
    if not mark or tonumber(mark) < relay then redis.call('HSET', p .. 'marks', field, ARGV[3]) end
  elseif not mark then
    redis.call('HSET', p .. 'marks', field, '0')
  end
end
return recompute_reflected(p)
"""
)

LOAD_OFFSETS: Final = """
-- ARGV: base, now. Answers {live version, offsets as a flat field/value list}. Creates an empty live version
-- when there is none (first start, or a Redis that lost its data): its offsets are empty, so the runner reads
-- every partition from its beginning.
local base = ARGV[1]
local version = redis.call('GET', base .. ':live')
if not version then
  version = tostring(redis.call('INCR', base .. ':seq'))
  redis.call('HSET', base .. ':v' .. version .. ':meta', 'state', 'live', 'created_at', ARGV[2], 'floor', '0',
    'reflected_position', '0')
  redis.call('SET', base .. ':live', version)
end
return {version, redis.call('HGETALL', base .. ':v' .. version .. ':offsets')}
"""

REFLECTED: Final = """
-- ARGV: base. Answers the reflected position of the live version (0 when there is none).
local version = redis.call('GET', ARGV[1] .. ':live')
if not version then return 0 end
return tonumber(redis.call('HGET', ARGV[1] .. ':v' .. version .. ':meta', 'reflected_position') or '0')
"""

SEAL: Final = (
    _RECOMPUTE_REFLECTED
    + """
-- ARGV: base, version, floor, n, n x (partition field, next offset), then (partition field, last position) pairs.
-- A version being built records that it holds every event at or below ``floor``, where the live projector
-- resumes once it is switched in, and the last positions it takes over.
local p = ARGV[1] .. ':v' .. ARGV[2] .. ':'
if redis.call('HGET', p .. 'meta', 'state') ~= 'building' then
  return redis.error_reply('ELSTATE version ' .. ARGV[2] .. ' is not being built')
end
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', p .. 'meta', 'floor') or '0') then
  redis.call('HSET', p .. 'meta', 'floor', ARGV[3])
end
local n = tonumber(ARGV[4])
for j = 5, 4 + 2 * n, 2 do redis.call('HSET', p .. 'offsets', ARGV[j], ARGV[j + 1]) end
for j = 5 + 2 * n, #ARGV, 2 do redis.call('HSET', p .. 'last', ARGV[j], ARGV[j + 1]) end
return recompute_reflected(p)
"""
)

BEGIN_HANDOVER: Final = """
-- ARGV: base, live version, token, timeout ms. Stops live writes to the version (they answer ELBUSY and are retried)
-- until the switch or the deadline, and answers {offsets flat, last positions flat, reflected position}: final
-- for this version from now on.
local base, version = ARGV[1], ARGV[2]
if redis.call('GET', base .. ':live') ~= version then
  return redis.error_reply('ELSWITCH version ' .. version .. ' is no longer live')
end
local p = base .. ':v' .. version .. ':'
local now = redis.call('TIME')
local deadline = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[4])
redis.call('HSET', p .. 'meta', 'handover', ARGV[3] .. '|' .. string.format('%d', deadline))
return {redis.call('HGETALL', p .. 'offsets'), redis.call('HGETALL', p .. 'last'),
  redis.call('HGET', p .. 'meta', 'reflected_position') or '0'}
"""

END_HANDOVER: Final = """
-- ARGV: base, version, token. Lets live writes go on (a hand-over that failed); only with our own token.
local meta = ARGV[1] .. ':v' .. ARGV[2] .. ':meta'
local handover = redis.call('HGET', meta, 'handover')
if handover and string.sub(handover, 1, #ARGV[3] + 1) == ARGV[3] .. '|' then
  return redis.call('HDEL', meta, 'handover')
end
return 0
"""

SWITCH: Final = """
-- ARGV: base, new version, expected live version ('' for none), hand-over token ('' for none), now.
-- Points readers and projectors at the new version. Refuses when the live version is not the expected one, when
-- the hand-over deadline passed (live writes went on: the offsets taken over are stale), or when the new
-- version's floor is below the old one's reflected position (the reflected position never goes back).
local base, new, expected, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local current = redis.call('GET', base .. ':live') or ''
if current ~= expected then
  return redis.error_reply('ELSWITCH the live version is ' .. current .. ', not ' .. expected)
end
local new_meta = base .. ':v' .. new .. ':meta'
if redis.call('HGET', new_meta, 'state') ~= 'building' then
  return redis.error_reply('ELSTATE version ' .. new .. ' is not being built')
end
if current ~= '' then
  local old_meta = base .. ':v' .. current .. ':meta'
  local handover = redis.call('HGET', old_meta, 'handover') or ''
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if string.sub(handover, 1, #token + 1) ~= token .. '|' or tonumber(string.match(handover, '|(%d+)$')) <= now_ms then
    return redis.error_reply('ELSWITCH the hand-over from version ' .. current .. ' is not ours or timed out')
  end
  local old_reflected = tonumber(redis.call('HGET', old_meta, 'reflected_position') or '0')
  if old_reflected > tonumber(redis.call('HGET', new_meta, 'floor') or '0') then
    return redis.error_reply('ELSWITCH version ' .. new .. ' is behind the reflected position ' .. old_reflected)
  end
  redis.call('HSET', old_meta, 'state', 'retired', 'retired_at', ARGV[5])
  redis.call('HDEL', old_meta, 'handover')
end
redis.call('HSET', new_meta, 'state', 'live', 'switched_at', ARGV[5])
redis.call('SET', base .. ':live', new)
return 1
"""

BEGIN_BUILD: Final = """
-- ARGV: base, now. Allocates a new version and marks it as being built. Answers its number.
local version = redis.call('INCR', ARGV[1] .. ':seq')
redis.call('HSET', ARGV[1] .. ':v' .. version .. ':meta', 'state', 'building', 'created_at', ARGV[2], 'floor', '0',
  'reflected_position', '0')
return version
"""

RENEW_LOCK: Final = """
-- KEYS: lock; ARGV: token, ttl ms. Extends the lock only while we still hold it; answers 1 or 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

RELEASE_LOCK: Final = """
-- KEYS: lock; ARGV: token. Deletes the lock only while we still hold it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
