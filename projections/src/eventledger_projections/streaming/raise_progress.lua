-- Move a partition's progress up to ``offset``, never down (shared by the two scripts that move it).
local function raise_progress(progress, partition, offset)
  local stored = tonumber(redis.call('HGET', progress, partition))
  if stored == nil or tonumber(offset) > stored then
    redis.call('HSET', progress, partition, offset)
  end
end
