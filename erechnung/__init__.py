"""erechnung"""
