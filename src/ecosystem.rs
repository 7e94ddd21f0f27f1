//! Package ecosystems: versions, ranges, weakness and advisory ids (issue 14; being written).
