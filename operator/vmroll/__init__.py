"""vmroll: keeps pools of Azure virtual machines on declared OS image versions."""

__version__ = "0.1.0"
