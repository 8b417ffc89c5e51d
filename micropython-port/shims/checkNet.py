# QuecPython's `checkNet` helper, as the vendor demos use it (frozen into
# the firmware; reference §5: ports/quectel/core/checkNet.py). On a
# Quectel module it reads the modem's firmware version, power-on reason and
# SIM state; here there is no modem, and BLE needs no network, so the
# banner says what this firmware is instead.
import sys


class CheckNetwork:
    def __init__(self, project_name, project_version):
        self.PROJECT_NAME = project_name
        self.PROJECT_VERSION = project_version
        impl = sys.implementation
        version = ".".join(str(v) for v in impl.version[:3])
        self.FIRMWARE_VERSION = "mpble MicroPython v{} ({})".format(version, sys.platform)
        self.POWERON_REASON = "not available (no modem)"
        self.SIM_CARD_STATUS = "not available (no modem)"

    def poweron_print_once(self):
        print("==================================================")
        print("PROJECT_NAME     : {}".format(self.PROJECT_NAME))
        print("PROJECT_VERSION  : {}".format(self.PROJECT_VERSION))
        print("FIRMWARE_VERSION : {}".format(self.FIRMWARE_VERSION))
        print("POWERON_REASON   : {}".format(self.POWERON_REASON))
        print("SIM_CARD_STATUS  : {}".format(self.SIM_CARD_STATUS))
        print("==================================================")
