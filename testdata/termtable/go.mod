module example.com/termtable

go 1.26
