from litestar.types import ControllerRouterHandler

ROUTES: list[ControllerRouterHandler] = []
