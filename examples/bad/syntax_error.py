"""A program that does not even compile."""

print("never printed"
