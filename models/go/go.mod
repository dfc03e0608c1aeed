module tmbench/peer/go

go 1.19
