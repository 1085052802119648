module berth.local/tools/images/pause

go 1.22
