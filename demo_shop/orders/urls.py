from django.urls import path

from demo_shop.orders import views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/<int:product_id>/", views.cart_add, name="cart-add"),
    path("cart/update/<int:product_id>/", views.cart_update, name="cart-update"),
    path("cart/remove/<int:product_id>/", views.cart_remove, name="cart-remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/<str:number>/", views.confirmation, name="confirmation"),
]
