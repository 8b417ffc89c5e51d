# mpble user C module (CMake-based ports, e.g. esp32, rp2).
#
#   cmake -DUSER_C_MODULES=<repo root>/micropython-port/micropython.cmake
#         -DMPBLE_LIB=<path to libmpble.a for the target>
#         -DMPBLE_HAL_SRC=<your HAL's C file(s), the functions of mpble_hal.h> ...
#
# The transports here are for make-based ports (hal_unix*.c on unix,
# hal_cmsdk_uart.c on qemu); a CMake port brings its own HAL (README "On
# your own board"; hal_cmsdk_uart.c is the worked example).
get_filename_component(MPBLE_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

add_library(usermod_mpble INTERFACE)

target_sources(usermod_mpble INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modble.c
    ${CMAKE_CURRENT_LIST_DIR}/modnetwork_bt.c
    ${CMAKE_CURRENT_LIST_DIR}/network_bt_gatts.c
    ${CMAKE_CURRENT_LIST_DIR}/network_bt_gattc.c
    ${CMAKE_CURRENT_LIST_DIR}/mpble_port.c
    # Bonds: the two-slot flash store; the port's HAL (MPBLE_HAL_SRC) also
    # provides the page functions of mpble_flash.h.
    ${CMAKE_CURRENT_LIST_DIR}/keystore_flash.c
)

target_include_directories(usermod_mpble INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${MPBLE_ROOT}/include
)

if(NOT MPBLE_HAL_SRC)
    message(FATAL_ERROR "mpble: set MPBLE_HAL_SRC to the C file(s) of this port's HAL (mpble_hal.h)")
endif()
target_sources(usermod_mpble INTERFACE ${MPBLE_HAL_SRC})

if(NOT MPBLE_LIB)
    message(FATAL_ERROR "mpble: set MPBLE_LIB to the Rust staticlib built for this target")
endif()
target_link_libraries(usermod_mpble INTERFACE ${MPBLE_LIB})

target_link_libraries(usermod INTERFACE usermod_mpble)
