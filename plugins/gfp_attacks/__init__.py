"""The paper's perturbation attacks as ``Attack`` plugins: noise, blur, crop, jpeg,
relight and their combination. Registered through the same hook a third-party plugin uses."""

from gfcore import hookimpl


@hookimpl
def gfp_register_attacks(register):
    from .blur import Blur
    from .combo import Combo
    from .crop import Crop
    from .jpeg import Jpeg
    from .noise import Noise
    from .relight import Relight

    for cls in (Noise, Blur, Crop, Jpeg, Relight, Combo):
        register(cls)
