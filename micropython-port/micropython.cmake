# mpble user C module (CMake-based ports, e.g. esp32, rp2).
#
#   cmake -DUSER_C_MODULES=<repo root>/micropython-port/micropython.cmake
#         -DMPBLE_LIB=<path to libmpble.a for the target> ...
#
# Only the unix transports (hal_unix*.c) exist so far; a CMake port needs its own hal.
get_filename_component(MPBLE_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

add_library(usermod_mpble INTERFACE)

target_sources(usermod_mpble INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modble.c
    ${CMAKE_CURRENT_LIST_DIR}/modnetwork_bt.c
    ${CMAKE_CURRENT_LIST_DIR}/mpble_port.c
)

target_include_directories(usermod_mpble INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${MPBLE_ROOT}/include
)

if(NOT MPBLE_LIB)
    message(FATAL_ERROR "mpble: set MPBLE_LIB to the Rust staticlib built for this target")
endif()
target_link_libraries(usermod_mpble INTERFACE ${MPBLE_LIB})

target_link_libraries(usermod INTERFACE usermod_mpble)
