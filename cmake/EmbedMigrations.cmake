# Writes a C++ source holding every migration file of one track, in
# file-name order, as the function FUNCTION.
# Usage: cmake -DOUTPUT=file.cc -DFUNCTION=EmbeddedMigrations "-DINPUTS=a.sql|b.sql"
#   -P EmbedMigrations.cmake
string(REPLACE "|" ";" _inputs "${INPUTS}")
set(_body "")
foreach(_file IN LISTS _inputs)
  get_filename_component(_name "${_file}" NAME_WE)
  file(READ "${_file}" _sql)
  string(APPEND _body "    {\"${_name}\", R\"protomodel_sql(${_sql})protomodel_sql\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from migration files by cmake/EmbedMigrations.cmake.
#include \"db/schema/migrations.h\"

namespace protomodel::db {

const std::vector<MigrationFile>& ${FUNCTION}() {
  static const std::vector<MigrationFile> kMigrations = {
${_body}  };
  return kMigrations;
}

}  // namespace protomodel::db
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
