-- merged_into references patients(id): without an index every change to a
-- patient row's key (and every guarded delete) scans the whole table.
CREATE INDEX patients_merged_into ON patients (merged_into);
