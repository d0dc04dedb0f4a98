package sqlitex

// OpenTestDB is openTestDB, for the package's external tests.
var OpenTestDB = openTestDB
