# Writes OUT: a C++ file holding every providers/*.yaml under SRC as a string, so the built-in
# provider definitions travel inside the binary.
file(GLOB files RELATIVE "${SRC}" "${SRC}/providers/*.yaml")
list(SORT files)
set(body "#include \"config/catalog.hpp\"\n\nnamespace finsync::config {\n\n")
string(APPEND body "const std::vector<BuiltinFile>& builtin_provider_files() {\n")
string(APPEND body "  static const std::vector<BuiltinFile> files = {\n")
foreach(f IN LISTS files)
  file(READ "${SRC}/${f}" text)
  string(APPEND body "      {\"${f}\", R\"finsync_yaml(${text})finsync_yaml\"},\n")
endforeach()
string(APPEND body "  };\n  return files;\n}\n\n}  // namespace finsync::config\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
