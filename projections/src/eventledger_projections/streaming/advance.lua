-- ARGV: base, then (partition, offset) pairs: move each partition's progress up to the offset (never down).
for j = 2, #ARGV, 2 do
  raise_progress(ARGV[1] .. ':stream:progress', ARGV[j], ARGV[j + 1])
end
return 0
