"""The image side of the Azure emulator: marketplace images, galleries, managed images, terms.

The emulator core mounts `ImageService` routes and asks it, on every VM create or reimage, which
image a VM's `imageReference` names (`resolve_vm_image`), so that both answer the same way.
"""
