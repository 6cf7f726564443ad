module example.com/covdistsleepy

go 1.26
