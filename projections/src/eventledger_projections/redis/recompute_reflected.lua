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
