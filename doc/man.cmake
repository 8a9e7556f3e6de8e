# cmake -DIN=page.md -DOUT=page -DOPTIONS=options.md -DGO_MD2MAN=... -DVERSION=... -DDATE=... -P man.cmake
# Fills @VERSION@, @DATE@ and @OPTIONS_TABLE@ in a page's Markdown, then
# converts it to roff.
file(READ ${IN} text)
file(READ ${OPTIONS} options)
string(REPLACE "@VERSION@" "${VERSION}" text "${text}")
string(REPLACE "@DATE@" "${DATE}" text "${text}")
string(REPLACE "@OPTIONS_TABLE@" "${options}" text "${text}")
get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
file(WRITE ${OUT}.md "${text}")
execute_process(COMMAND ${GO_MD2MAN} -in ${OUT}.md -out ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "go-md2man failed on ${IN}")
endif()
