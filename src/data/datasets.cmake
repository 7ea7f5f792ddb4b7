# IDX reader, Dataset, built-in data sets, sources and download.
