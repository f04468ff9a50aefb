-- ARGV: base, keep seconds, partition, offset, amount, position, then windows of 4 fields: window, start, end,
-- currency. Counts the posting in each window's cell of this partition whose mark is below its position, and
-- moves the partition's progress to the offset. Answers how many cells changed; refuses (ELOVERFLOW) a posting
-- that would overflow a total, before any write.
local p = ARGV[1] .. ':stream:'
local keep, part, offset = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local amount, position = ARGV[5], ARGV[6]
local changed, windows, keys = 0, {}, {}
-- Refuse before any write (a script is not rolled back): a total that would leave the 64-bit integers.
for i = 7, #ARGV, 4 do
  local key = p .. 'w:' .. ARGV[i] .. ':' .. ARGV[i + 1] .. ':' .. ARGV[i + 3]
  if (tonumber(redis.call('HGET', key, 'volume')) or 0) + tonumber(amount) >= 9e18 then
    return redis.error_reply('ELOVERFLOW the volume of ' .. key .. ' would overflow')
  end
  keys[i] = key
end
for i = 7, #ARGV, 4 do
  local window, start, finish, currency = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = keys[i]
  if tonumber(position) > (tonumber(redis.call('HGET', key, 'm:' .. part)) or 0) then
    redis.call('HSET', key, 'm:' .. part, position, 'window', window, 'start', start, 'end', finish,
      'currency', currency)
    redis.call('HINCRBY', key, 'n:' .. part, 1)
    redis.call('HINCRBY', key, 'v:' .. part, amount)
    redis.call('HINCRBY', key, 'transfers', 1)
    redis.call('HINCRBY', key, 'volume', amount)
    local revision = redis.call('HINCRBY', key, 'revision', 1)
    redis.call('EXPIREAT', key, tonumber(finish) + keep)
    redis.call('ZADD', p .. 'index:' .. window, start, start .. ':' .. currency)
    redis.call('ZADD', p .. 'dirty', revision, window .. ':' .. start .. ':' .. currency)
    windows[window] = true
    changed = changed + 1
  end
end
raise_progress(p .. 'progress', part, offset)
local now = tonumber(redis.call('TIME')[1])
for window in pairs(windows) do
  redis.call('ZREMRANGEBYSCORE', p .. 'index:' .. window, '-inf', '(' .. string.format('%d', now - 2 * keep))
end
return changed
